package attach

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// PerfEventKind is a perf_event program (section perf_event/<name>): it runs on every sample
// of a perf event opened on each CPU, whose event and rate gadget.yaml gives
// (programs.<name>.perf and .sampler, Inspektor Gadget's keys).
const PerfEventKind Kind = "perf_event"

// PerfEvent is the event a perf_event program samples, in Inspektor Gadget's terms: type
// "software", config "count_sw_cpu_clock", sample type "sample_raw", and a sampling
// frequency (samples per second on each CPU). Period, when set instead of Frequency, samples
// every Period events (for the CPU clock: nanoseconds).
type PerfEvent struct {
	Type       string
	Config     string
	SampleType string
	Frequency  uint64
	Period     uint64
}

// perfConfigs are the events a PerfEvent may name, by type and config.
var perfConfigs = map[string]struct {
	typ     uint32
	configs map[string]uint64
}{
	"software": {unix.PERF_TYPE_SOFTWARE, map[string]uint64{
		"count_sw_cpu_clock":  unix.PERF_COUNT_SW_CPU_CLOCK,
		"count_sw_task_clock": unix.PERF_COUNT_SW_TASK_CLOCK,
	}},
	"hardware": {unix.PERF_TYPE_HARDWARE, map[string]uint64{
		"count_hw_cpu_cycles":   unix.PERF_COUNT_HW_CPU_CYCLES,
		"count_hw_instructions": unix.PERF_COUNT_HW_INSTRUCTIONS,
	}},
}

var perfSampleTypes = map[string]uint64{"sample_raw": unix.PERF_SAMPLE_RAW}

// attr checks the event and gives its perf_event_attr.
func (pe *PerfEvent) attr() (*unix.PerfEventAttr, error) {
	if pe == nil {
		return nil, errors.New("a perf_event program needs its event in gadget.yaml: programs.<name>.perf {type: software, config: count_sw_cpu_clock, sampleType: sample_raw} and programs.<name>.sampler.frequency (samples per second on each CPU)")
	}
	t, ok := perfConfigs[pe.Type]
	if !ok {
		return nil, fmt.Errorf("perf type %q: want one of %s", pe.Type, keys(perfConfigs))
	}
	config, ok := t.configs[pe.Config]
	if !ok {
		return nil, fmt.Errorf("perf config %q of type %s: want one of %s", pe.Config, pe.Type, keys(t.configs))
	}
	st := uint64(unix.PERF_SAMPLE_RAW)
	if pe.SampleType != "" {
		if st, ok = perfSampleTypes[pe.SampleType]; !ok {
			return nil, fmt.Errorf("perf sampleType %q: want one of %s", pe.SampleType, keys(perfSampleTypes))
		}
	}
	a := &unix.PerfEventAttr{Type: t.typ, Config: config, Sample_type: st, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{}))}
	switch {
	case pe.Frequency > 0:
		a.Sample, a.Bits = pe.Frequency, unix.PerfBitFreq
	case pe.Period > 0:
		a.Sample = pe.Period
	default:
		return nil, errors.New("a perf_event program needs programs.<name>.sampler.frequency (samples per second on each CPU) in gadget.yaml")
	}
	return a, nil
}

func keys[V any](m map[string]V) string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return strings.Join(k, ", ")
}

// attachPerfEvent opens the event on every online CPU (all tasks) and runs prog on its samples.
// Closing the link closes the events.
func attachPerfEvent(pe *PerfEvent, prog *ebpf.Program) (*multiLink, error) {
	a, err := pe.attr()
	if err != nil {
		return nil, err
	}
	cpus, err := OnlineCPUs()
	if err != nil {
		return nil, err
	}
	ml := &multiLink{}
	for _, cpu := range cpus {
		fd, err := unix.PerfEventOpen(a, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			ml.Close()
			err = fmt.Errorf("opening the perf event %s/%s on CPU %d: %w", pe.Type, pe.Config, cpu, err)
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
				return nil, lacks{err}
			}
			return nil, err
		}
		ml.closers = append(ml.closers, func() error { return unix.Close(fd) })
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
			ml.Close()
			return nil, fmt.Errorf("attaching the program to the perf event on CPU %d (PERF_EVENT_IOC_SET_BPF): %w", cpu, err)
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			ml.Close()
			return nil, fmt.Errorf("enabling the perf event on CPU %d: %w", cpu, err)
		}
	}
	return ml, nil
}

// OnlineCPUs lists the online CPUs (/sys/devices/system/cpu/online: "0-3,5").
func OnlineCPUs() ([]int, error) {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("listing the online CPUs: %w", err)
	}
	return parseCPUList(strings.TrimSpace(string(data)))
}

func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("CPU list %q: no CPU", s)
	}
	return cpus, nil
}
