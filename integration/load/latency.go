package main

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// latencies gathers per-request durations from many workers. Each worker
// keeps its own slice and hands it over once, when it stops, so recording
// takes no lock on the measured path and cannot itself add to the tail.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

// add hands over one worker's samples.
func (l *latencies) add(mine []time.Duration) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.all = append(l.all, mine...)
	l.mu.Unlock()
}

// latencySummary is what a load phase reports about its requests' times.
type latencySummary struct {
	n                     int
	mean, p50, p99, maxim time.Duration
}

func (l *latencies) summary() latencySummary {
	l.mu.Lock()
	d := slices.Clone(l.all)
	l.mu.Unlock()
	if len(d) == 0 {
		return latencySummary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	// Nearest rank: the smallest sample with at least q of them at or below.
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.999999) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return latencySummary{n: len(d), mean: sum / time.Duration(len(d)), p50: rank(0.50), p99: rank(0.99), maxim: d[len(d)-1]}
}

func (s latencySummary) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("mean %s p50 %s p99 %s max %s", ms(s.mean), ms(s.p50), ms(s.p99), ms(s.maxim))
}
