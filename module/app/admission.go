package app

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// maxAdmissionSlots caps the doorkeeper (a power of two).
const maxAdmissionSlots = 1 << 23

// admission decides which verified tokens earn a place in the token cache:
// those seen a second time. A token presented once and never again (a
// script that fetches a token per call, or a flood of fresh tokens) would
// otherwise cost an LRU insertion, two index entries, an eviction and heap
// the collector keeps walking, and would push out tokens that are in use;
// the doorkeeper of TinyLFU-style caches. A token in real use pays one extra
// verification, on its second request.
//
// It remembers a 64-bit fingerprint of each token verified but not cached,
// in one of two slots its key picks, in a fixed array of atomics: no lock, no
// allocation, and a forgotten fingerprint (overwritten by another token)
// only delays a token's admission. Keys are sha256 of tokens that verified,
// so a caller cannot aim tokens at a slot, and a fingerprint collision only
// caches a valid token early. Only what admission keeps changes; every
// request's token is checked the same way, cached or not.
type admission struct {
	slots []atomic.Uint64
	mask  uint64
}

// newAdmission sizes the doorkeeper to the cache: a power of two of slots,
// at least four per cache entry (8 bytes each: 4 MiB for the default
// 100,000 entries) and 1024 at least. Filling a cache means remembering as
// many tokens as it holds: the slots are then at most a fifth full, both
// slots of a new token are taken (and one fingerprint forgotten) less than
// 4% of the time, and about 99% of the tokens are admitted on their second
// sight (TestAdmissionFillsTheCache); with one slot per entry, 78% were.
//
// It is allocated whole at start, unlike the cache, so it stops growing at
// maxAdmissionSlots (64 MiB, caches of 2 million tokens): a larger
// cache_size admits a little later, instead of reserving memory in
// proportion to a number typed in a config.
func newAdmission(cacheSize int) *admission {
	n := min(max(cacheSize, 256), maxAdmissionSlots/4) * 4
	n = 1 << bits.Len(uint(n-1))
	return &admission{slots: make([]atomic.Uint64, n), mask: uint64(n - 1)}
}

// secondSight reports whether k was seen before (and forgets it: the cache
// holds it from now on); otherwise it remembers k and reports false.
func (d *admission) secondSight(k tokenKey) bool {
	fp := binary.LittleEndian.Uint64(k[0:8]) | 1 // never 0, the empty slot
	a := &d.slots[binary.LittleEndian.Uint64(k[8:16])&d.mask]
	b := &d.slots[binary.LittleEndian.Uint64(k[16:24])&d.mask]
	if a.CompareAndSwap(fp, 0) || b.CompareAndSwap(fp, 0) {
		return true
	}
	// An empty slot first; with both taken, the fingerprint picks which one
	// to overwrite, so two tokens sharing a slot do not evict each other
	// forever.
	switch {
	case a.CompareAndSwap(0, fp), b.CompareAndSwap(0, fp):
	case fp&2 == 0:
		a.Store(fp)
	default:
		b.Store(fp)
	}
	return false
}
