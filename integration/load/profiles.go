package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles turns on mutex and block sampling and the execution trace
// for the files named ("" for none) and returns what writes them at the end
// of the run. They are off by default: each has a cost of its own on the hot
// path. The trace (go tool trace) shows what a slow request waited for: the
// scheduler, a GC phase, a syscall; keep the run short, it grows fast.
func startProfiles(mutexFile, blockFile, traceFile string) (write func()) {
	var traced *os.File
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
		} else {
			traced = f
		}
	}
	if mutexFile != "" {
		runtime.SetMutexProfileFraction(10)
	}
	if blockFile != "" {
		// One sample per 100µs spent blocked, on average.
		runtime.SetBlockProfileRate(100_000)
	}
	return func() {
		if traced != nil {
			trace.Stop()
			traced.Close()
		}
		for name, file := range map[string]string{"mutex": mutexFile, "block": blockFile} {
			if file == "" {
				continue
			}
			if err := writeProfile(name, file); err != nil {
				fmt.Fprintln(os.Stderr, "load:", err)
			}
		}
	}
}

func writeProfile(name, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup(name).WriteTo(f, 0)
}
