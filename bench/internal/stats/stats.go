// Package stats holds what the benchmark drivers under bench/ measure the same way: the CPU
// time of a process's threads and the median of a series.
package stats

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ThreadsCPU returns the CPU time all of pid's threads have used so far, from
// /proc/PID/task/*/schedstat (in nanoseconds, where /proc/PID/stat counts clock ticks).
func ThreadsCPU(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var ns int64
		fmt.Sscan(string(b), &ns)
		total += time.Duration(ns)
	}
	return total
}

// Median returns the median of v (the mean of the two middle values for an even count; zero
// for none).
func Median[T float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := append([]T(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
