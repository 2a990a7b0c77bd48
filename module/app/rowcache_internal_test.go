package app

import "testing"

// The row cache keeps misses in an LRU of their own: a stream of misses
// evicts older misses only, never a row; a row found for an id once missing
// replaces the miss; forget drops both, and an add read before it.
func TestRowCacheKeepsMissesApart(t *testing.T) {
	type row struct{ id string }
	c := newRowCache[row](2, 2)
	a, b := &row{"a"}, &row{"b"}
	c.add("a", a, c.generation())
	c.add("b", b, c.generation())
	for _, id := range []string{"x1", "x2", "x3", "x4"} {
		c.add(id, nil, c.generation())
	}
	for id, want := range map[string]*row{"a": a, "b": b} {
		if got, known := c.get(id); !known || got != want {
			t.Errorf("get(%s) = %v, %v after a stream of misses; want the row", id, got, known)
		}
	}
	if got, known := c.get("x4"); !known || got != nil {
		t.Errorf("get(x4) = %v, %v; want a known miss", got, known)
	}
	if _, known := c.get("x1"); known {
		t.Error("the oldest miss is still held beyond the miss LRU's size")
	}

	x3 := &row{"x3"}
	c.add("x3", x3, c.generation()) // the row was created after the miss was cached
	if got, known := c.get("x3"); !known || got != x3 {
		t.Errorf("get(x3) = %v, %v; want the new row", got, known)
	}
	if c.missing.Contains("x3") {
		t.Error("x3 is still cached as a miss")
	}

	c.forget("a")
	c.forget("x4")
	for _, id := range []string{"a", "x4"} {
		if _, known := c.get(id); known {
			t.Errorf("get(%s) still known after forget", id)
		}
	}

	// A row read before a forget is not added after it.
	before := c.generation()
	c.forget("b")
	c.add("b", b, before)
	if _, known := c.get("b"); known {
		t.Error("a row read before a forget was cached after it")
	}
}
