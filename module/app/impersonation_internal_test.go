package app

import (
	"slices"
	"sync"
	"testing"
)

// Guards register their impersonation header names while others may read
// the set (run with -race): every name is kept once, canonicalised, and a
// slice handed out earlier never changes under its reader (names that sort
// before the one it holds are added after it was handed out).
func TestHeaderNames(t *testing.T) {
	h := newHeaderNames()
	h.add("x-first")
	before := *h.names.Load()
	var wg sync.WaitGroup
	for _, name := range []string{"x-on-behalf", "X-On-Behalf", "X-Act-As-User", "x-act-as-user", "X-ON-BEHALF"} {
		wg.Go(func() {
			h.add(name)
			for _, n := range *h.names.Load() {
				_ = n
			}
		})
	}
	wg.Wait()
	got := slices.Clone(*h.names.Load())
	slices.Sort(got)
	if !slices.Equal(got, []string{"X-Act-As-User", "X-First", "X-On-Behalf"}) {
		t.Fatalf("names = %q", got)
	}
	if !slices.Equal(before, []string{"X-First"}) {
		t.Fatalf("the slice read before the registrations changed: %q", before)
	}
}
