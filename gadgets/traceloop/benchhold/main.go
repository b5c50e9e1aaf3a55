// Command benchhold loads an eBPF object, attaches its raw_tracepoint and tp_btf programs and holds them
// until its standard input closes, draining the traceloop ring buffer (if any) the way the
// runtime does: on a timer, discarding the records. bench/traceloop.sh uses it to measure the
// cost of traceloop (and of empty programs) on a syscall-heavy workload before the runtime can
// run the gadget itself.
//
//	benchhold -obj program.o [-syscalls openat,execve]
//
// -syscalls sets filter_syscalls and fills syscall_filter with those x86-64 syscalls (numbers
// read from the kernel headers); without it every syscall is recorded.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

func main() {
	obj := flag.String("obj", "", "eBPF object to load")
	syscalls := flag.String("syscalls", "", "comma-separated syscalls to record (default: all)")
	flag.Parse()
	if err := run(*obj, *syscalls); err != nil {
		fmt.Fprintln(os.Stderr, "benchhold:", err)
		os.Exit(1)
	}
}

func run(obj, syscalls string) error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return err
	}
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		return fmt.Errorf("reading %s: %w", obj, err)
	}
	var nrs []uint32
	if syscalls != "" {
		if nrs, err = numbers(strings.Split(syscalls, ",")); err != nil {
			return err
		}
		v, ok := spec.Variables["filter_syscalls"]
		if !ok {
			return fmt.Errorf("%s has no filter_syscalls variable: -syscalls needs the traceloop object", obj)
		}
		if err := v.Set(true); err != nil {
			return err
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return fmt.Errorf("loading %s: %w", obj, err)
	}
	defer coll.Close()
	for _, nr := range nrs {
		if err := coll.Maps["syscall_filter"].Put(nr, uint8(1)); err != nil {
			return fmt.Errorf("filling syscall_filter: %w", err)
		}
	}
	var rd *ringbuf.Reader
	if m, ok := coll.Maps["events"]; ok {
		if rd, err = ringbuf.NewReader(m); err != nil {
			return err
		}
		defer rd.Close()
	}
	for name, p := range spec.Programs {
		var l link.Link
		if tp, ok := strings.CutPrefix(p.SectionName, "raw_tracepoint/"); ok {
			l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp, Program: coll.Programs[name]})
		} else if strings.HasPrefix(p.SectionName, "tp_btf/") {
			l, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[name]})
		} else {
			continue
		}
		if err != nil {
			return fmt.Errorf("attaching %s (%s): %w", name, p.SectionName, err)
		}
		defer l.Close()
	}
	fmt.Println("ready")
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	records := 0
	for {
		select {
		case <-done:
			fmt.Fprintf(os.Stderr, "benchhold: %d records drained\n", records)
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		for rd != nil {
			rd.SetDeadline(time.Now())
			if _, err := rd.Read(); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				return err
			}
			records++
		}
	}
}

func numbers(names []string) ([]uint32, error) {
	f, err := os.Open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) == 3 && fl[0] == "#define" && strings.HasPrefix(fl[1], "__NR_") {
			if n, err := strconv.ParseUint(fl[2], 10, 32); err == nil {
				all[strings.TrimPrefix(fl[1], "__NR_")] = uint32(n)
			}
		}
	}
	var out []uint32
	for _, n := range names {
		nr, ok := all[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("unknown x86-64 syscall %q", n)
		}
		out = append(out, nr)
	}
	return out, nil
}
