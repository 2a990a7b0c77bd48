package store

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"gorm.io/gorm"
)

// revocationGroup names the revocations of one client's tokens for one
// subject, the unit RevocationsKeptPerSubject bounds.
type revocationGroup struct{ clientID, subject string }

// revocationBudgetGroups bounds the groups whose budget a node remembers;
// a group it forgot is counted at its next revocation, as before.
const revocationBudgetGroups = 10_000

// revocationBudgetShare and revocationBudgetLife size a budget: after a
// count of n rows of a bound of kept, the node may add (kept-n)/8 more
// revocations within 30 s before it counts again.
const (
	revocationBudgetShare = 8
	revocationBudgetLife  = 30 * time.Second
)

// revocationBudgets remembers, for each group recently counted, how many
// more revocations this node may add before it counts the group's rows
// again. Counting them on every revocation cost a scan of up to the whole
// bound (10,000 rows for a client's own group): a client revoking its own
// tokens in a loop paid 2.5-2.9 ms per revocation near the bound, and
// slowed every other revocation meanwhile.
//
// A budget is an eighth of what the count left below the bound, so a group
// is counted some 70 times while it fills a bound of 10,000: a node alone
// never passes the bound before it counts again (the bound holds as
// exactly as when every revocation counted), and nodes revoking in one
// group at once pass it by at most an eighth of what was left per node
// (eight nodes, a full bound) before a count replaces the rows by a
// watermark. A budget lasts 30 s, so one counted long ago is not spent on
// a group other nodes have filled since. It is set only once the
// transaction that counted commits (a rolled-back one may have counted
// rows it then did not keep), and spending it before a rollback only
// leaves fewer rows than it assumes, as expired rows and other nodes'
// watermarks do.
type revocationBudgets struct {
	left *lru.Cache[revocationGroup, revocationBudget]
}

type revocationBudget struct {
	left  int64
	until time.Time
}

func newRevocationBudgets() revocationBudgets {
	c, _ := lru.New[revocationGroup, revocationBudget](revocationBudgetGroups) // only a size <= 0 fails
	return revocationBudgets{left: c}
}

// spend reports whether group g may take one more revocation without a
// count, and takes it from the budget. Called with the group locked
// (lockGroup, or SQLite's one writer), so no other revocation of g runs
// in between on this node.
func (b revocationBudgets) spend(g revocationGroup) bool {
	bg, ok := b.left.Get(g)
	if !ok || bg.left <= 0 || time.Now().After(bg.until) {
		return false
	}
	bg.left--
	b.left.Add(g, bg)
	return true
}

// counted records, once tx commits, that g held n live rows above its
// watermark, of kept; until then g has no budget (it is counted again).
func (b revocationBudgets) counted(tx *gorm.DB, g revocationGroup, n, kept int64) {
	b.left.Remove(g)
	left := (kept - n) / revocationBudgetShare
	if left <= 0 {
		return
	}
	budget := revocationBudget{left: left, until: time.Now().Add(revocationBudgetLife)}
	afterCommit(tx, func() { b.left.Add(g, budget) })
}

// forget drops every budget (the bound changed).
func (b revocationBudgets) forget() { b.left.Purge() }
