package app

import (
	"fmt"
	"testing"

	"github.com/scopegate/scopegate/module/token"
)

// The doorkeeper admits a key on its second sight, not its first, and
// forgets it once admitted; the slots are a power of two, at least four per
// cache entry.
func TestAdmissionSecondSight(t *testing.T) {
	for size, want := range map[int]int{0: 1024, 256: 1024, 257: 2048, 100_000: 524288, 1 << 40: maxAdmissionSlots} {
		if got := len(newAdmission(size).slots); got != want {
			t.Errorf("newAdmission(%d): %d slots, want %d", size, got, want)
		}
	}
	d := newAdmission(1024)
	k := tokenKeyOf("a token")
	if d.secondSight(k) {
		t.Fatal("admitted on first sight")
	}
	if !d.secondSight(k) {
		t.Fatal("not admitted on second sight")
	}
	if d.secondSight(k) {
		t.Fatal("an admitted key is still remembered (the cache holds it from now on)")
	}
	if d.secondSight(tokenKeyOf("another token")) {
		t.Fatal("another key admitted on its first sight")
	}
}

// With ten times more keys than slots, every slot has been taken many
// times over: a key is still admitted when seen twice in a row (a full pair
// of slots is overwritten, never refused), and none on its first sight
// (a slot another key left is not taken for this one's).
func TestAdmissionCrowded(t *testing.T) {
	d := newAdmission(1024)
	admitted := 0
	for i := range 10_000 {
		k := tokenKeyOf(fmt.Sprint("token ", i))
		if d.secondSight(k) {
			t.Fatalf("key %d admitted on first sight", i)
		}
		if d.secondSight(k) {
			admitted++
		}
	}
	if admitted != 10_000 {
		t.Fatalf("%d of 10000 keys seen twice in a row admitted", admitted)
	}
}

// A flood of tokens presented once each leaves the cache alone: none is
// cached, and a token in use stays cached however many pass.
func TestTokenCacheAdmitsOnSecondSight(t *testing.T) {
	c := newTokenCache(8)
	used := tokenKeyOf("in use")
	claims := &token.Claims{ClientID: "c"}
	c.admit(used, claims)
	if c.contains(used) {
		t.Fatal("cached on first sight")
	}
	c.admit(used, claims)
	if !c.contains(used) {
		t.Fatal("not cached on second sight")
	}
	for i := range 10_000 {
		c.admit(tokenKeyOf(fmt.Sprint("once ", i)), &token.Claims{ClientID: "flood"})
	}
	if !c.contains(used) || c.len() != 1 || len(c.byClient["flood"]) != 0 {
		t.Fatalf("after the flood: in use cached %v, %d entries, %d flood entries indexed",
			c.contains(used), c.len(), len(c.byClient["flood"]))
	}
}

// Filling a cache of the default size, as a node does at start-up under
// load: every token presented once, then every token again. Nearly all are
// admitted on the second pass (a few forgotten in between, where two
// slots were taken; they are admitted on their next sight).
func TestAdmissionFillsTheCache(t *testing.T) {
	const size = 100_000
	d := newAdmission(size)
	keys := make([]tokenKey, size)
	for i := range keys {
		keys[i] = tokenKeyOf(fmt.Sprint("token ", i))
		d.secondSight(keys[i])
	}
	admitted := 0
	for _, k := range keys {
		if d.secondSight(k) {
			admitted++
		}
	}
	if admitted < size*97/100 {
		t.Fatalf("%d of %d tokens admitted on the second pass, want at least 97%%", admitted, size)
	}
	t.Logf("%d of %d admitted on the second pass", admitted, size)
}
