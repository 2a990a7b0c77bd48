package app

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/zap"
)

// keepGOMAXPROCS restores the test process's GOMAXPROCS and scopegate's
// memory of it when the test ends, and clears the environment's GOMAXPROCS
// for the test (an empty value counts as unset).
func keepGOMAXPROCS(t *testing.T) int {
	t.Helper()
	reset := func() {
		procs.Lock()
		procs.before, procs.asked = 0, ownedSetting[int]{}
		procs.Unlock()
	}
	reset() // an App.Start of an earlier test may have raised it
	orig := runtime.GOMAXPROCS(0)
	t.Setenv("GOMAXPROCS", "")
	t.Cleanup(func() {
		runtime.GOMAXPROCS(orig)
		reset()
	})
	return orig
}

// TestMinGOMAXPROCSRaisesAndReloadRestores checks that a config raises
// GOMAXPROCS to its floor when Caddy left it at the CPU count, that a
// reload with a lower floor starts again from the value found, and that a
// reload with the option off puts the original value back.
func TestMinGOMAXPROCSRaisesAndReloadRestores(t *testing.T) {
	keepGOMAXPROCS(t)
	cpus := runtime.NumCPU()
	runtime.GOMAXPROCS(cpus) // as Caddy leaves it without a CPU quota
	applyMinGOMAXPROCS(nil, cpus+14, zap.NewNop())
	if got := runtime.GOMAXPROCS(0); got != cpus+14 {
		t.Fatalf("GOMAXPROCS = %d after min_gomaxprocs %d on %d CPUs, want %d", got, cpus+14, cpus, cpus+14)
	}
	applyMinGOMAXPROCS(nil, cpus+4, zap.NewNop()) // a reload asking for less
	if got := runtime.GOMAXPROCS(0); got != cpus+4 {
		t.Fatalf("GOMAXPROCS = %d after a reload with min_gomaxprocs %d, want %d", got, cpus+4, cpus+4)
	}
	applyMinGOMAXPROCS(nil, -1, zap.NewNop()) // a reload with min_gomaxprocs off
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Fatalf("GOMAXPROCS = %d after a reload with min_gomaxprocs off, want the original %d", got, cpus)
	}
}

// TestMinGOMAXPROCSLeavesChosenValues checks the cases where GOMAXPROCS was
// chosen on purpose and must stay: set in the environment, lowered below the
// CPU count (Caddy following a container's CPU quota), or already at least
// the floor.
func TestMinGOMAXPROCSLeavesChosenValues(t *testing.T) {
	keepGOMAXPROCS(t)
	cpus := runtime.NumCPU()

	runtime.GOMAXPROCS(cpus)
	t.Setenv("GOMAXPROCS", "3")
	applyMinGOMAXPROCS(nil, cpus+14, zap.NewNop())
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Errorf("GOMAXPROCS = %d with GOMAXPROCS in the environment, want it left at %d", got, cpus)
	}
	t.Setenv("GOMAXPROCS", "")

	if cpus > 1 {
		runtime.GOMAXPROCS(cpus - 1) // a CPU quota below the machine's CPUs
		applyMinGOMAXPROCS(nil, cpus+14, zap.NewNop())
		if got := runtime.GOMAXPROCS(0); got != cpus-1 {
			t.Errorf("GOMAXPROCS = %d under a CPU quota of %d, want it left alone", got, cpus-1)
		}
	}

	runtime.GOMAXPROCS(cpus)
	applyMinGOMAXPROCS(nil, cpus, zap.NewNop())
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Errorf("GOMAXPROCS = %d with a floor of %d, want %d", got, cpus, cpus)
	}
}

// TestUnloadRestoresGOMAXPROCS checks that cleaning up the app that raised
// GOMAXPROCS puts the value back when no newer config took over, and that
// cleaning up an old config after a reload's new one raised it leaves it.
func TestUnloadRestoresGOMAXPROCS(t *testing.T) {
	keepGOMAXPROCS(t)
	cpus := runtime.NumCPU()
	runtime.GOMAXPROCS(cpus)
	old, cur := new(started), new(started)
	applyMinGOMAXPROCS(old, cpus+8, zap.NewNop())
	applyMinGOMAXPROCS(cur, cpus+8, zap.NewNop()) // a reload starts the new config first
	restoreGOMAXPROCS(old)                        // then cleans up the old one
	if got := runtime.GOMAXPROCS(0); got != cpus+8 {
		t.Fatalf("GOMAXPROCS = %d after the old config's cleanup, want the new config's %d", got, cpus+8)
	}
	restoreGOMAXPROCS(cur) // the app is unloaded
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Fatalf("GOMAXPROCS = %d after unloading the app, want the original %d", got, cpus)
	}
}

// TestCPUQuotaSet checks the cgroup files read to tell a CPU quota, v1
// and v2, at the root and in the process's own cgroup, against files
// without one.
func TestCPUQuotaSet(t *testing.T) {
	write := func(t *testing.T, root, rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		files map[string]string
		self  string
		want  bool
	}{
		"nothing":              {nil, "0::/\n", false},
		"v2 root max":          {map[string]string{"cpu.max": "max 100000\n"}, "0::/\n", false},
		"v2 root quota":        {map[string]string{"cpu.max": "200000 100000\n"}, "0::/\n", true},
		"v2 own cgroup quota":  {map[string]string{"system.slice/caddy.service/cpu.max": "150000 100000\n"}, "0::/system.slice/caddy.service\n", true},
		"v1 no quota":          {map[string]string{"cpu/cpu.cfs_quota_us": "-1\n"}, "1:cpu:/\n", false},
		"v1 root quota":        {map[string]string{"cpu,cpuacct/cpu.cfs_quota_us": "200000\n"}, "4:cpu,cpuacct:/\n", true},
		"v1 own cgroup quota":  {map[string]string{"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000\n"}, "4:cpu,cpuacct:/docker/abc\n", true},
		"v1 memory limit only": {map[string]string{"memory/docker/abc/memory.limit_in_bytes": "1000\n"}, "5:memory:/docker/abc\n", false},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for rel, body := range tc.files {
				write(t, root, rel, body)
			}
			if got := cpuQuotaSet(root, tc.self); got != tc.want {
				t.Fatalf("cpuQuotaSet = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMinGOMAXPROCSFailedReloadKeepsTheRunningConfigs checks that cleaning
// up a config whose start failed (Caddy keeps the one before it serving)
// puts that running config's GOMAXPROCS back, not the value found at
// start, and that the last config going restores that value (a red-team
// finding: a failed reload left the running gateway at Caddy's GOMAXPROCS).
func TestMinGOMAXPROCSFailedReloadKeepsTheRunningConfigs(t *testing.T) {
	keepGOMAXPROCS(t)
	cpus := runtime.NumCPU()
	runtime.GOMAXPROCS(cpus)
	running, failed := &started{}, &started{}
	applyMinGOMAXPROCS(running, cpus+14, zap.NewNop())
	applyMinGOMAXPROCS(failed, cpus+4, zap.NewNop()) // the new config starts...
	restoreGOMAXPROCS(failed)                        // ...fails, and is cleaned up
	if got := runtime.GOMAXPROCS(0); got != cpus+14 {
		t.Fatalf("GOMAXPROCS = %d after the failed reload was cleaned up, want the running config's %d", got, cpus+14)
	}
	restoreGOMAXPROCS(running)
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Fatalf("GOMAXPROCS = %d with no config left, want the original %d", got, cpus)
	}
}
