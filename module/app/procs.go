package app

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
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
// -t2 -c64 on a 2-core machine, p50 2.3-3.7 ms and p99 35-53 ms at
// GOMAXPROCS=2, p50 1.8-2.6 ms and p99 10-16 ms at 16, for the same tokens/s. With 16 queues
// each holds a few requests, and the kernel's fair scheduler interleaves
// the threads at a finer grain than one queue's backlog.
const DefaultMinGOMAXPROCS = 16

// procs remembers what GOMAXPROCS was before a config raised it, so that a
// reload to a config that no longer asks for it, or one without the app,
// puts it back.
var procs struct {
	sync.Mutex
	before int               // 0: not raised
	asked  ownedSetting[int] // each loaded config's min_gomaxprocs
}

// applyMinGOMAXPROCS raises GOMAXPROCS to floor (<= 0: leave it as Caddy
// set it) for the app instance owner. It leaves alone a GOMAXPROCS the
// operator set in the environment, one below the machine's CPU count, and
// any under a CPU quota: more threads than the quota would only be
// throttled by the kernel (every thread's time counts against it).
func applyMinGOMAXPROCS(owner *started, floor int, logger *zap.Logger) {
	procs.Lock()
	defer procs.Unlock()
	procs.asked.push(owner, floor)
	setMinGOMAXPROCSLocked(floor, logger)
}

func setMinGOMAXPROCSLocked(floor int, logger *zap.Logger) {
	restoreGOMAXPROCSLocked() // an earlier config raised it: start again from what it found
	cur := runtime.GOMAXPROCS(0)
	if floor <= cur || os.Getenv("GOMAXPROCS") != "" || cur < runtime.NumCPU() || cpuQuotaSet(cgroupRoot, readFile(selfCgroup)) {
		return
	}
	procs.before = cur
	runtime.GOMAXPROCS(floor)
	logger.Info("raised GOMAXPROCS for shorter latency tails on shared cores (scopegate min_gomaxprocs; off to keep it)",
		zap.Int("from", cur), zap.Int("to", floor), zap.Int("cpus", runtime.NumCPU()))
}

// restoreGOMAXPROCS forgets owner's floor (its config is unloaded, or its
// start failed) and puts in force the newest remaining config's, or the
// value found when no config is left.
func restoreGOMAXPROCS(owner *started) {
	procs.Lock()
	defer procs.Unlock()
	if floor, ok := procs.asked.drop(owner); ok {
		setMinGOMAXPROCSLocked(floor, zap.NewNop())
		return
	}
	restoreGOMAXPROCSLocked()
}

func restoreGOMAXPROCSLocked() {
	if procs.before != 0 {
		runtime.GOMAXPROCS(procs.before)
		procs.before = 0
	}
}

const (
	cgroupRoot = "/sys/fs/cgroup"
	selfCgroup = "/proc/self/cgroup"
)

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// cpuQuotaSet reports whether the process's cgroup limits its CPU time,
// cgroup v2 (cpu.max other than "max") or v1 (cpu.cfs_quota_us above 0),
// looking at the cgroup's own directory under root (self lists the
// process's cgroups, as /proc/self/cgroup does) and at root itself (inside
// a container's cgroup namespace the two are one). Caddy lowers GOMAXPROCS
// to a quota below the CPU count; this catches a quota equal to it.
func cpuQuotaSet(root, self string) bool {
	var files []string
	files = append(files, filepath.Join(root, "cpu.max"))
	for _, dir := range []string{"cpu", "cpu,cpuacct", "cpuacct,cpu"} {
		files = append(files, filepath.Join(root, dir, "cpu.cfs_quota_us"))
	}
	for _, line := range strings.Split(self, "\n") {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			files = append(files, filepath.Join(root, parts[2], "cpu.max"))
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "cpu" {
				files = append(files, filepath.Join(root, parts[1], parts[2], "cpu.cfs_quota_us"))
			}
		}
	}
	for _, f := range files {
		v := strings.Fields(readFile(f))
		if len(v) == 0 {
			continue
		}
		if strings.HasSuffix(f, "cpu.max") && v[0] != "max" {
			return true
		}
		if strings.HasSuffix(f, "cpu.cfs_quota_us") && v[0] != "-1" && v[0] != "0" {
			return true
		}
	}
	return false
}
