//go:build unix

package signer

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time this process used so far. Benchmarks report it per op
// because on a shared machine wall time also counts the time other processes ran.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
