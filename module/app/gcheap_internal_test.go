package app

import (
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"testing"
	"time"

	"go.uber.org/zap"
)

// keepGCPercent clears the environment's GOGC for the test and puts back
// the test process's GC percent and scopegate's memory of it at the end.
func keepGCPercent(t *testing.T) int {
	t.Helper()
	reset := func() {
		gcFloor.Lock()
		restoreGCPercentLocked()
		gcFloor.asked = ownedSetting[int64]{}
		gcFloor.Unlock()
	}
	reset() // an App.Start of an earlier test may have set a floor
	orig := gcPercent(t)
	t.Setenv("GOGC", "")
	t.Cleanup(func() {
		reset()
		debug.SetGCPercent(orig)
	})
	return orig
}

func gcPercent(t *testing.T) int {
	t.Helper()
	s := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		t.Fatal("this runtime has no /gc/gogc:percent metric")
	}
	return int(s[0].Value.Uint64())
}

// waitForGCPercent runs GC cycles until the percent meets ok: the floor's
// callback runs on the finalizer goroutine after a cycle, not within
// runtime.GC.
func waitForGCPercent(t *testing.T, ok func(int) bool, what string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a bound on a hang, not a timing
	for {
		runtime.GC()
		if p := gcPercent(t); ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent is %d after a minute of cycles, want %s", gcPercent(t), what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMinGCHeapRaisesGCPercentAndRestores checks that a floor far above
// the test's live heap raises the GC percent so the next goal is the
// floor, that the callback keeps doing so after later cycles (its chain
// re-arms), and that unloading the config that set it puts the percent
// found back and stops the chain.
func TestMinGCHeapRaisesGCPercentAndRestores(t *testing.T) {
	orig := keepGCPercent(t)
	owner := &started{}
	const floor = 1 << 30
	applyMinGCHeap(owner, floor, zap.NewNop())
	p := gcPercent(t)
	if p <= 4*orig {
		t.Fatalf("GC percent %d right after applying a 1 GiB floor, want well above the original %d", p, orig)
	}
	// The callback after each cycle sets it again: undo it twice, and see
	// it come back each time (the chain re-arms itself).
	for range 2 {
		gcFloor.Lock()
		debug.SetGCPercent(orig)
		gcFloor.pct = orig
		gcFloor.Unlock()
		p = waitForGCPercent(t, func(p int) bool { return p > 4*orig }, "set again after a GC cycle")
	}
	// The goal live*(1+p/100) must be near the floor, not past it.
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	if live := s[0].Value.Uint64(); live*uint64(100+p)/100 > floor*12/10 {
		t.Errorf("GC percent %d with %d bytes live puts the goal at %d, past the floor %d", p, live, live*uint64(100+p)/100, floor)
	}

	// Another config (a reload) sets it again; unloading the old one must
	// not undo it.
	newer := &started{}
	applyMinGCHeap(newer, floor, zap.NewNop())
	restoreMinGCHeap(owner)
	if got := gcPercent(t); got <= 4*orig {
		t.Errorf("GC percent %d after the old config was unloaded, want the newer config's floor kept", got)
	}

	restoreMinGCHeap(newer)
	if got := gcPercent(t); got != orig {
		t.Fatalf("GC percent %d after unloading, want the original %d", got, orig)
	}
	for range 3 { // the chain is stopped: later cycles leave the percent alone
		runtime.GC()
		runtime.Gosched()
	}
	if got := gcPercent(t); got != orig {
		t.Errorf("GC percent %d some cycles after unloading, want the original %d", got, orig)
	}
}

// TestMinGCHeapLeavesChosenPacing checks that min_gc_heap leaves the
// collector alone when the environment sets GOGC and when the option is
// off (-1), that a reload turning it off restores the percent found, and
// that cleaning up that reload (its start failed) puts the running
// config's floor back.
func TestMinGCHeapLeavesChosenPacing(t *testing.T) {
	orig := keepGCPercent(t)
	owner := &started{}

	t.Setenv("GOGC", "100")
	applyMinGCHeap(owner, 1<<30, zap.NewNop())
	gcFloor.Lock()
	set := gcFloor.floor != 0
	gcFloor.Unlock()
	if set || gcPercent(t) != orig {
		t.Errorf("with GOGC in the environment the floor was applied (GC percent %d, want %d)", gcPercent(t), orig)
	}
	t.Setenv("GOGC", "")

	applyMinGCHeap(owner, 1<<30, zap.NewNop())
	waitForGCPercent(t, func(p int) bool { return p > 4*orig }, "well above the original")
	off := &started{}
	applyMinGCHeap(off, -1, zap.NewNop()) // a reload with min_gc_heap off
	if got := gcPercent(t); got != orig {
		t.Errorf("GC percent %d after a reload with min_gc_heap off, want the original %d", got, orig)
	}
	// That reload fails to start: Caddy cleans it up and the config before
	// it keeps serving, with its floor (a red-team finding: the floor was
	// gone until the next reload).
	restoreMinGCHeap(off)
	if got := gcPercent(t); got <= 4*orig {
		t.Errorf("GC percent %d after the failed reload was cleaned up, want the running config's floor back", got)
	}
	restoreMinGCHeap(owner)
	if got := gcPercent(t); got != orig {
		t.Errorf("GC percent %d with no config left, want the original %d", got, orig)
	}
}

// TestFloorGCPercent checks the percent computed from the live heap: the
// goal at the floor, never below the percent found, GC off left off.
func TestFloorGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{16 * mib, 64 * mib, 100, 300},                 // 16 MiB live, goal 64 MiB
		{40 * mib, 64 * mib, 100, 100},                 // 60% would undercut the base
		{80 * mib, 64 * mib, 100, 100},                 // above the floor: Go's pacing
		{0, 64 * mib, 100, 100},                        // nothing measured yet
		{1024, 64 * mib, 100, 6300},                    // a tiny heap counts as 1 MiB
		{16 * mib, 64 * mib, 400, 400},                 // a higher percent found stays
		{16 * mib, 64 * mib, -1, -1},                   // GC off stays off
		{mib, 1 << 40, 100, (1<<40 - mib) * 100 / mib}, // the largest floor does not overflow
	} {
		if got := floorGCPercent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("floorGCPercent(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}
