package main

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used so far (user and
// system). CPU time per request is a figure the other programs sharing the
// machine's cores hardly change, unlike requests per second and latency:
// it tells whether a change made each request cheaper on a noisy machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
