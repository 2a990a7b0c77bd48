package store_test

import (
	"os"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
)

// TestMain gives the statements and transactions of these tests bounds far
// above production's: the bounds are a node's answer to a database that
// stops answering, and the tests that check them set their own
// (deadline_test.go). Under -race, pure-Go SQLite on a busy two-core
// machine ran one statement of a test over thousands of rows past 10 s.
func TestMain(m *testing.M) {
	store.StatementTimeout, store.TxTimeout = 2*time.Minute, 5*time.Minute
	os.Exit(m.Run())
}
