package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startContentionProfiles turns on mutex and block sampling for the files
// named ("" for neither) and returns what writes them at the end of the run.
// They are off by default: sampling has a cost of its own on the hot path.
func startContentionProfiles(mutexFile, blockFile string) (write func()) {
	if mutexFile != "" {
		runtime.SetMutexProfileFraction(10)
	}
	if blockFile != "" {
		// One sample per 100µs spent blocked, on average.
		runtime.SetBlockProfileRate(100_000)
	}
	return func() {
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
