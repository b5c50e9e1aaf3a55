// Command syscall_filter is the WASM module of the syscall_filter gadget: it turns the
// syscall names of the "syscalls" parameter into the running kernel's numbers and writes them
// to the BPF map syscall_filter in gadgetStart, after the eBPF collection is loaded and before
// the program attaches, so the kernel drops every other syscall.
package main

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gadgetry/gadgetry/wasmapi"
)

func start() error {
	list, err := wasmapi.GetParamValue("syscalls")
	if err != nil {
		return err
	}
	m, err := wasmapi.GetMap("syscall_filter")
	if err != nil {
		return err
	}
	defer m.Release()
	n := 0
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		nr, err := wasmapi.GetSyscallID(name)
		if err != nil {
			return fmt.Errorf("unknown syscall %q on this kernel", name)
		}
		if err := m.Put(binary.LittleEndian.AppendUint32(nil, uint32(nr)), []byte{1}); err != nil {
			return fmt.Errorf("filtering %s: %w", name, err)
		}
		wasmapi.Debugf("tracing %s (%d)", name, nr)
		n++
	}
	if n == 0 {
		return fmt.Errorf("--syscalls is empty: name at least one syscall")
	}
	return nil
}

func init() { wasmapi.OnStart(start) }

func main() {}
