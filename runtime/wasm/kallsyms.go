package wasm

import (
	"bufio"
	"bytes"
	"os"
	"sync"
)

var kallsyms = sync.OnceValues(func() (map[string]struct{}, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms := make(map[string]struct{}, 1<<17)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "ffffffff81000000 T _stext [module]"
		line := sc.Bytes()
		f := bytes.Fields(line)
		if len(f) >= 3 {
			syms[string(f[2])] = struct{}{}
		}
	}
	return syms, sc.Err()
})

// Kallsyms reports whether the running kernel has symbol name, from /proc/kallsyms read once
// per process. It reports false when /proc/kallsyms cannot be read.
func Kallsyms(name string) bool {
	syms, err := kallsyms()
	if err != nil {
		return false
	}
	_, ok := syms[name]
	return ok
}
