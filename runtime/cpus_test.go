package runtime_test

import "github.com/cilium/ebpf"

func ebpfPossibleCPUs() (int, error) { return ebpf.PossibleCPU() }
