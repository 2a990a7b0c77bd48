package app

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"

	"go.uber.org/zap"
)

// DefaultMinGCHeap is the heap size below which the garbage collector does
// not start a cycle unless told otherwise (min_gc_heap): 64 MiB.
//
// Why: the gateway's live heap is small (about 15 MB serving tokens), so
// with Go's default GOGC=100 a cycle starts every time 15 MB more is
// allocated: about 20 cycles a second at 20k tokens/s. Each cycle stops
// every Go processor twice, and with more processors than cores
// (min_gomaxprocs) a stop waits until the kernel has run each of their
// threads: 3 ms median, 11 ms p99 measured on two shared cores, during
// which no request moves. The mark phase takes a quarter of the processors
// too. A floor of 64 MiB makes cycles four to five times rarer: measured
// with wrk -t2 -c64 against the built quickstart on two shared cores, runs
// interleaved (GOGC=400 in three pairs, this floor in three), tokens/s went
// from 19-27k to 23-31k and p99 from 13-23 ms to 10-17 ms: more tokens in
// six pairs of six, a lower p99 in five, for about 40 MB more resident
// memory. Above the floor the collector
// paces as GOGC says.
const DefaultMinGCHeap = 64 << 20

// maxMinGCHeap bounds min_gc_heap (1 TiB), far above any sensible value,
// so the percent computed from it cannot overflow.
const maxMinGCHeap = 1 << 40

// gcFloor is the process-wide state of min_gc_heap: the collector is
// one per process, whichever config set it.
var gcFloor struct {
	sync.Mutex
	floor  uint64 // bytes; 0: not applied
	before int    // the GC percent found, restored when the floor goes
	gen    uint64 // bumped on every apply and restore: older callback chains stop
	pct    int    // the GC percent last set
	sample []rtmetrics.Sample
	asked  ownedSetting[int64] // each loaded config's min_gc_heap
}

// gcSentinel is garbage on purpose: its finalizer runs after the GC cycle
// that found it unreachable, and sets itself again, so gcCycleEnded runs
// once per cycle for as long as its generation is the current one. The
// pointer field keeps it out of the tiny allocator, whose blocks are freed
// (and finalized) only with their neighbours.
type gcSentinel struct {
	gen uint64
	_   *byte
}

// applyMinGCHeap keeps the collector from starting a cycle before the heap
// reaches floor bytes (<= 0: leave the collector as it is), for the app
// instance owner. It leaves alone a GOGC the operator set in the
// environment (GOGC=off included). A memory limit (GOMEMLIMIT, or the one
// Caddy derives from a container's memory limit) still makes the collector
// run earlier when memory runs short.
func applyMinGCHeap(owner *started, floor int64, logger *zap.Logger) {
	gcFloor.Lock()
	defer gcFloor.Unlock()
	gcFloor.asked.push(owner, floor)
	setGCFloorLocked(floor, logger)
}

func setGCFloorLocked(floor int64, logger *zap.Logger) {
	restoreGCPercentLocked() // start again from what was found
	if floor <= 0 || os.Getenv("GOGC") != "" {
		return
	}
	gcFloor.floor = uint64(floor)
	gcFloor.sample = []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	rtmetrics.Read(gcFloor.sample)
	if gcFloor.sample[1].Value.Kind() != rtmetrics.KindUint64 {
		return // a runtime without the metric: leave the collector alone
	}
	gcFloor.before = int(gcFloor.sample[1].Value.Uint64())
	gcFloor.pct = gcFloor.before
	gcFloor.gen++
	tuneGCPercentLocked()
	runtime.SetFinalizer(&gcSentinel{gen: gcFloor.gen}, gcCycleEnded)
	logger.Info("the garbage collector waits for the heap to reach a floor before a cycle (scopegate min_gc_heap; off to keep Go's pacing)",
		zap.Uint64("floor_bytes", gcFloor.floor), zap.Int("gc_percent", gcFloor.pct))
}

// restoreMinGCHeap forgets owner's floor (its config is unloaded, or its
// start failed) and puts in force the newest remaining config's, or the GC
// percent found when no config is left.
func restoreMinGCHeap(owner *started) {
	gcFloor.Lock()
	defer gcFloor.Unlock()
	if floor, ok := gcFloor.asked.drop(owner); ok {
		setGCFloorLocked(floor, zap.NewNop())
		return
	}
	restoreGCPercentLocked()
}

func restoreGCPercentLocked() {
	if gcFloor.floor == 0 {
		return
	}
	gcFloor.gen++
	debug.SetGCPercent(gcFloor.before)
	gcFloor.floor = 0
}

// gcCycleEnded runs on the finalizer goroutine after a GC cycle.
func gcCycleEnded(s *gcSentinel) {
	gcFloor.Lock()
	defer gcFloor.Unlock()
	if s.gen != gcFloor.gen {
		return // the floor was removed or set again (a new chain runs)
	}
	tuneGCPercentLocked()
	runtime.SetFinalizer(s, gcCycleEnded)
}

// tuneGCPercentLocked sets the GC percent that puts the next cycle's goal
// at the floor, given the heap the last cycle found live; never below the
// percent found.
func tuneGCPercentLocked() {
	rtmetrics.Read(gcFloor.sample)
	var live uint64
	if v := gcFloor.sample[0].Value; v.Kind() == rtmetrics.KindUint64 {
		live = v.Uint64()
	}
	pct := floorGCPercent(live, gcFloor.floor, gcFloor.before)
	// Changes under a tenth are left out, so a live heap that wobbles does
	// not reset the pacer every cycle.
	d := pct - gcFloor.pct
	if pct != gcFloor.pct && (d > gcFloor.pct/10 || -d > gcFloor.pct/10 || pct == gcFloor.before) {
		debug.SetGCPercent(pct)
		gcFloor.pct = pct
	}
}

// floorGCPercent is the GC percent whose goal, live*(1+pct/100), is the
// floor, and at least base.
func floorGCPercent(live, floor uint64, base int) int {
	if base < 0 || live == 0 || live >= floor {
		return base // GC off stays off; nothing measured yet; above the floor
	}
	if live < 1<<20 {
		live = 1 << 20 // just started: aim at the floor without absurd percents
	}
	return max(base, int((floor-live)*100/live))
}
