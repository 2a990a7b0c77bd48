package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
)

// notified is how long a notified change may take to reach another node on
// a busy machine; the nodes of these tests poll hourly, so nothing but the
// notification can deliver it in time.
const notified = 10 * time.Second

// listeningNodes opens two nodes on one fresh PostgreSQL database that poll
// hourly, and waits until node B listens for change notifications.
func listeningNodes(t *testing.T) (a, b *app.App) {
	t.Helper()
	hourly := func(a *app.App) { a.PollInterval = caddy.Duration(time.Hour) }
	a = apptest.Open(t, store.Postgres, hourly)
	b = openOn(t, store.Postgres, a.Database.DSN, hourly)
	eventually(t, notified, "node B listens for changes", func() bool { return b.ListenerPID() != 0 })
	return a, b
}

// refusedWithin checks Verify of raw on node n every millisecond until it
// returns ErrClientDisabled, and returns how long that took; past within,
// or on any other error, the test fails.
func refusedWithin(t *testing.T, n *app.App, raw string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := n.Verify(context.Background(), raw)
		if errors.Is(err, app.ErrClientDisabled) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("Verify: %v, want nil then ErrClientDisabled", err)
		}
		if time.Since(start) > within {
			t.Fatalf("a client disabled on node A still verifies on node B after %v", within)
		}
		time.Sleep(time.Millisecond)
	}
}

// disableOnA makes a client on node A, caches one of its tokens on node B,
// disables the client on A and returns the token.
func disableOnA(t *testing.T, a, b *app.App, name string) string {
	t.Helper()
	c, _ := newClient(t, a, name)
	raw, _ := mint(t, a, c.ID, "", time.Hour)
	verifiedOn(t, b, raw)
	if err := a.Store().SetClientDisabled(context.Background(), c.ID, true, tester); err != nil {
		t.Fatal(err)
	}
	return raw
}

// On PostgreSQL a change committed on node A reaches node B through a
// notification, without waiting for B's poll (hourly here): twenty clients
// disabled on A in a row are each refused by B. The test logs how long each
// took from A's commit (median and max).
func TestNotifyWakesOtherNode(t *testing.T) {
	t.Parallel()
	a, b := listeningNodes(t)
	var took []time.Duration
	for i := range 20 {
		raw := disableOnA(t, a, b, fmt.Sprintf("notified-%d", i))
		took = append(took, refusedWithin(t, b, raw, notified))
	}
	slices.Sort(took)
	t.Logf("disable on node A to refusal on node B, %d changes: median %v, max %v",
		len(took), took[len(took)/2], took[len(took)-1])
}

// When the listening connection is lost (its backend terminated), the node
// reconnects: a change committed while it was away is applied once it is
// back (it polls on reconnecting), and later changes are notified on the
// new connection.
func TestNotifyAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := listeningNodes(t)
	terminate := func() uint32 {
		pid := b.ListenerPID()
		var ok bool
		if err := a.Store().DB.WithContext(ctx).Raw("SELECT pg_terminate_backend(?)", pid).Scan(&ok).Error; err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
		return pid
	}

	old := terminate()
	raw := disableOnA(t, a, b, "while-away")
	refusedWithin(t, b, raw, notified)

	eventually(t, notified, "node B listens on a new connection", func() bool {
		pid := b.ListenerPID()
		return pid != 0 && pid != old
	})
	raw = disableOnA(t, a, b, "after-reconnect")
	refusedWithin(t, b, raw, notified)

	// And again, so the reconnection is not a one-off.
	old = terminate()
	eventually(t, notified, "node B listens on a new connection", func() bool {
		pid := b.ListenerPID()
		return pid != 0 && pid != old
	})
	raw = disableOnA(t, a, b, "after-second-reconnect")
	refusedWithin(t, b, raw, notified)
}
