package app

import (
	"os"
	"runtime"
	"sync"

	"go.uber.org/zap"
)

// DefaultMinGOMAXPROCS is the fewest Go processors (run queues) the gateway
// runs with unless told otherwise (min_gomaxprocs).
//
// Why more run queues than cores: each Go processor is one OS thread with
// its own queue of runnable goroutines. When that thread is preempted by the
// kernel, because another busy program shares the cores (a co-located
// upstream, a sidecar, a load generator), every request waiting in its queue
// waits with it until the kernel runs the thread again; the other
// processors, busy too, do not steal it. With two processors on two shared
// cores that is where the token endpoint's p99 came from: measured with wrk
// -t2 -c64 on a 2-core machine, p50 2.3 ms and p99 35-40 ms at GOMAXPROCS=2,
// p50 1.9 ms and p99 11.5-12.9 ms at 16, tokens/s within 6 %. With 16 queues
// each holds a few requests, and the kernel's fair scheduler interleaves
// the threads at a finer grain than one queue's backlog.
const DefaultMinGOMAXPROCS = 16

// procs remembers what GOMAXPROCS was before a config raised it, so that a
// reload to a config that no longer asks for it puts it back.
var procs struct {
	sync.Mutex
	before int // 0: not raised
}

// applyMinGOMAXPROCS raises GOMAXPROCS to floor (<= 0: leave it as Caddy
// set it). It leaves alone a GOMAXPROCS the operator set in the environment,
// and one below the machine's CPU count: that is Caddy following a
// container's CPU quota, and more threads than the quota would only be
// throttled by the kernel (every thread's time counts against it).
func applyMinGOMAXPROCS(floor int, logger *zap.Logger) {
	procs.Lock()
	defer procs.Unlock()
	if procs.before != 0 { // an earlier config raised it: start again from what it found
		runtime.GOMAXPROCS(procs.before)
		procs.before = 0
	}
	cur := runtime.GOMAXPROCS(0)
	if floor <= cur || os.Getenv("GOMAXPROCS") != "" || cur < runtime.NumCPU() {
		return
	}
	procs.before = cur
	runtime.GOMAXPROCS(floor)
	logger.Info("raised GOMAXPROCS for shorter latency tails on shared cores (scopegate min_gomaxprocs; off to keep it)",
		zap.Int("from", cur), zap.Int("to", floor), zap.Int("cpus", runtime.NumCPU()))
}
