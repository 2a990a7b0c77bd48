package store

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// revocationGroup names the revocations of one client's tokens for one
// subject, the unit RevocationsKeptPerSubject bounds.
type revocationGroup struct{ clientID, subject string }

// revocationBudgetGroups bounds the groups whose budget a node remembers;
// a group it forgot is counted at its next revocation, as before.
const revocationBudgetGroups = 10_000

// revocationBudgets remembers, for each group recently counted, how many
// more revocations this node may add before it counts the group's rows
// again. Counting them on every revocation cost a scan of up to the whole
// bound (10,000 rows for a client's own group): a client revoking its own
// tokens in a loop paid 4.4 ms per revocation near the bound, and slowed
// every other revocation meanwhile.
//
// After a count of n rows, the budget is half of what is left below the
// bound, (kept-n)/2, so a group is counted about log2(kept) times while it
// fills: a node alone never passes the bound before it counts again (the
// bound holds as exactly as when every revocation counted); nodes revoking
// in one group at once may pass it by part of what was left (at most half
// of it per other node) before the next count replaces the rows by a
// watermark. Nothing but the rows' number depends on it: expired rows,
// other nodes' watermarks and rolled-back transactions only leave fewer
// rows than the budget assumes.
type revocationBudgets struct {
	left *lru.Cache[revocationGroup, int64]
}

func newRevocationBudgets() revocationBudgets {
	c, _ := lru.New[revocationGroup, int64](revocationBudgetGroups) // only a size <= 0 fails
	return revocationBudgets{left: c}
}

// spend reports whether group g may take one more revocation without a
// count, and takes it from the budget. Called with the group locked
// (lockGroup, or SQLite's one writer), so no other revocation of g runs
// in between.
func (b revocationBudgets) spend(g revocationGroup) bool {
	n, ok := b.left.Get(g)
	if !ok || n <= 0 {
		return false
	}
	b.left.Add(g, n-1)
	return true
}

// counted records that g holds n live rows above its watermark, of kept.
func (b revocationBudgets) counted(g revocationGroup, n, kept int64) {
	if left := (kept - n) / 2; left > 0 {
		b.left.Add(g, left)
		return
	}
	b.left.Remove(g)
}

// forget drops every budget (the bound changed).
func (b revocationBudgets) forget() { b.left.Purge() }
