package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// gatewayPID is the gateway process whose CPU time drive measures.
var gatewayPID int

// clockTick is the unit of utime and stime in /proc/<pid>/stat
// (sysconf(_SC_CLK_TCK), 100 on Linux everywhere).
const clockTick = 10 * time.Millisecond

// gatewayCPU is the CPU time the gateway process has used so far (user and
// system, every thread). CPU time per request is a figure the other
// programs sharing the machine's cores hardly change, unlike requests per
// second and latency: it tells whether a change made each request cheaper
// on a noisy machine. 0 when it cannot be read (not Linux).
func gatewayCPU() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(gatewayPID) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis start with field 3, so utime (14) and stime (15)
	// are the 12th and 13th of them.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * clockTick
}

// procs is the node's GOMAXPROCS, from its Go runtime metrics.
func (n *loadNode) procs() string {
	v, err := metric(n, "go_sched_gomaxprocs_threads")
	if err != nil {
		return "?"
	}
	return v
}

// profileDuring fetches a CPU profile of the gateway covering the next d
// into file ("" for none) and returns what waits for it to be written.
func profileDuring(n *loadNode, file string, d time.Duration) (wait func() error) {
	if file == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", n.admin, max(int(d.Seconds()), 1))
		resp, err := http.Get(url)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("profiling the gateway: %s", resp.Status)
			return
		}
		f, err := os.Create(file)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	return func() error { return <-done }
}
