package app

import (
	"runtime"
	"testing"

	"go.uber.org/zap"
)

// keepGOMAXPROCS restores the test process's GOMAXPROCS and scopegate's
// memory of it when the test ends, and clears the environment's GOMAXPROCS
// for the test (an empty value counts as unset).
func keepGOMAXPROCS(t *testing.T) int {
	t.Helper()
	orig := runtime.GOMAXPROCS(0)
	t.Setenv("GOMAXPROCS", "")
	t.Cleanup(func() {
		runtime.GOMAXPROCS(orig)
		procs.Lock()
		procs.before = 0
		procs.Unlock()
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
	applyMinGOMAXPROCS(cpus+14, zap.NewNop())
	if got := runtime.GOMAXPROCS(0); got != cpus+14 {
		t.Fatalf("GOMAXPROCS = %d after min_gomaxprocs %d on %d CPUs, want %d", got, cpus+14, cpus, cpus+14)
	}
	applyMinGOMAXPROCS(cpus+4, zap.NewNop()) // a reload asking for less
	if got := runtime.GOMAXPROCS(0); got != cpus+4 {
		t.Fatalf("GOMAXPROCS = %d after a reload with min_gomaxprocs %d, want %d", got, cpus+4, cpus+4)
	}
	applyMinGOMAXPROCS(-1, zap.NewNop()) // a reload with min_gomaxprocs off
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
	applyMinGOMAXPROCS(cpus+14, zap.NewNop())
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Errorf("GOMAXPROCS = %d with GOMAXPROCS in the environment, want it left at %d", got, cpus)
	}
	t.Setenv("GOMAXPROCS", "")

	if cpus > 1 {
		runtime.GOMAXPROCS(cpus - 1) // a CPU quota below the machine's CPUs
		applyMinGOMAXPROCS(cpus+14, zap.NewNop())
		if got := runtime.GOMAXPROCS(0); got != cpus-1 {
			t.Errorf("GOMAXPROCS = %d under a CPU quota of %d, want it left alone", got, cpus-1)
		}
	}

	runtime.GOMAXPROCS(cpus)
	applyMinGOMAXPROCS(cpus, zap.NewNop())
	if got := runtime.GOMAXPROCS(0); got != cpus {
		t.Errorf("GOMAXPROCS = %d with a floor of %d, want %d", got, cpus, cpus)
	}
}
