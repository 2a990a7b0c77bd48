package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// propagated bounds how long a change may take to reach another node on a
// busy machine; with LISTEN/NOTIFY it takes milliseconds.
const propagated = 30 * time.Second

// clusterNode is one node of startCluster: a caddy process of its own.
type clusterNode struct {
	*gateway
	name     string
	adminURL string // Caddy's admin endpoint, for /metrics
}

// startCluster runs n nodes of the shipped postgres.Caddyfile, each a
// process of the built caddy, on one fresh PostgreSQL schema (dropped when
// the test ends) with one master key and one issuer, behind one real
// upstream, as a deployment behind a load balancer would.
func startCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	up := newUpstream(t)
	t.Setenv("SCOPEGATE_DSN", storetest.DSN(t, store.Postgres))
	t.Setenv("SCOPEGATE_MASTER_KEY", apptest.MasterKey)
	t.Setenv("SCOPEGATE_ISSUER", "https://cluster.example.test")
	cfg, err := filepath.Abs(filepath.Join("..", "caddyfiles", "postgres.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		p := startNodeProcess(t, cfg, up)
		nodes[i] = &clusterNode{gateway: &gateway{URL: p.URL, CfgPath: cfg, Upstream: up, Driver: store.Postgres},
			name: string(rune('A' + i)), adminURL: p.AdminURL}
	}
	return nodes
}

// accepted fails the test unless n's guarded route lets tok through to the
// upstream, twice, which also caches tok on n (a node caches a token on its
// second verification), so later refusals are the cache's.
func accepted(t *testing.T, n *clusterNode, tok, clientID string) {
	t.Helper()
	for range 2 {
		status, body, h := call(t, "GET", n.URL+"/api/things", tok, nil)
		if status != http.StatusOK || body["client_id"] != clientID || body["path"] != "/api/things" {
			t.Fatalf("node %s: %d %v %s, want 200 from the upstream for %s", n.name, status, body, h.Get("WWW-Authenticate"), clientID)
		}
	}
}

// refusedEventually polls n's guarded route with tok until it answers 401
// invalid_token for the reason given (part of the error description); until
// then it must let tok through.
func refusedEventually(t *testing.T, n *clusterNode, tok, reason string) {
	t.Helper()
	for deadline := time.Now().Add(propagated); ; time.Sleep(20 * time.Millisecond) {
		status, body, h := call(t, "GET", n.URL+"/api/things", tok, nil)
		if status == http.StatusUnauthorized && challenge(h) == "invalid_token" && strings.Contains(h.Get("WWW-Authenticate"), reason) {
			return
		}
		if status != http.StatusOK {
			t.Fatalf("node %s: %d %v %s, want 200 until it refuses with invalid_token (%s)", n.name, status, body, h.Get("WWW-Authenticate"), reason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s still accepts the token %v after the change (%s)", n.name, propagated, reason)
		}
	}
}

// pollFailures is the node's count of failed change-feed polls.
func pollFailures(t *testing.T, n *clusterNode) float64 {
	t.Helper()
	return sample(scrape(t, n.adminURL), "caddy_scopegate_change_feed_poll_failures_total")
}

// Three nodes A, B and C, each a caddy process of the shipped
// postgres.Caddyfile, on one PostgreSQL database with one master key:
//  1. a client created through A's admin API gets a token from B, which
//     C's guarded route lets through to the upstream;
//  2. the client disabled through C's admin API is refused (401
//     invalid_token, "disabled") by A and B, which had its token cached;
//  3. a token (cached on every node) revoked through C's RFC 7009 endpoint
//     while no node can read the revocations table (held locked past the
//     nodes' 10 s poll timeout, so every node's poll fails: each node's
//     poll-failure count goes up and A and B still let the token through,
//     while C, which revoked it, refuses it at once) is refused by every
//     node once the lock is released: the feed entry
//     the failed polls could not apply is applied by a later poll, with no
//     further notification to wake it.
func TestClusterOfThreeNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	admin := bootstrapAdmin(t, a.gateway, "/oauth2/token")

	id, secret := createClient(t, a.gateway, admin, map[string]any{"name": "roaming", "scopes": []string{"demo.read"}})
	tok := mustToken(t, b.gateway, id, secret, nil)
	accepted(t, c, tok, id)

	accepted(t, a, tok, id)
	accepted(t, b, tok, id)
	if status, body, _ := call(t, "POST", c.URL+"/admin/clients/"+id+"/disable", admin, nil); status != http.StatusOK {
		t.Fatalf("disabling the client on node C: %d %v", status, body)
	}
	refusedEventually(t, a, tok, "the client is disabled")
	refusedEventually(t, b, tok, "the client is disabled")

	id2, secret2 := createClient(t, a.gateway, admin, map[string]any{"name": "revoked-while-locked", "scopes": []string{"demo.read"}})
	tok2 := mustToken(t, a.gateway, id2, secret2, nil)
	for _, n := range nodes {
		accepted(t, n, tok2, id2)
	}
	failedBefore := map[*clusterNode]float64{}
	for _, n := range nodes {
		failedBefore[n] = pollFailures(t, n)
	}
	release := revokeWhileUnreadable(t, c, id2, secret2, tok2)
	for _, n := range nodes {
		waitForWithin(t, propagated, "node "+n.name+"'s poll fails on the locked table", func() bool { return pollFailures(t, n) > failedBefore[n] })
	}
	// Committed, but no other node could read it; the revoking node holds
	// it at once, without its feed.
	accepted(t, a, tok2, id2)
	accepted(t, b, tok2, id2)
	refusedEventually(t, c, tok2, "revoked")
	release()
	for _, n := range nodes {
		refusedEventually(t, n, tok2, "revoked")
	}
}

// revokeWhileUnreadable revokes tok through n's RFC 7009 endpoint so that
// the revocation commits while no node can read the revocations table, and
// returns what releases the table. A lock taken after the revocation
// commits would race the notification that wakes every node at once, and a
// lock on a table the revocation writes would hold the revocation back
// too, so the test steers the revoking transaction with two locks:
//  1. the feed table (changes) is locked, so the revocation, which writes
//     its revocations row first, waits on the feed;
//  2. then the revocations table is asked for in ACCESS EXCLUSIVE mode,
//     which queues behind the revoking transaction;
//  3. the feed is released: the revocation commits and notifies, and the
//     queued lock is granted as it does, before any node can read it.
func revokeWhileUnreadable(t *testing.T, n *clusterNode, clientID, secret, tok string) (release func()) {
	t.Helper()
	ctx := context.Background()
	dsn := os.Getenv("SCOPEGATE_DSN")
	watch := pgConnect(t, dsn)
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := watch.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	feed, err := lockTable(ctx, dsn, "changes")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.release) // before the schema is dropped, whatever happens
	revoked := make(chan error, 1)
	go func() { revoked <- revoke(n.URL, clientID, secret, tok) }()
	waitFor(t, "the revoking transaction waits on the feed", func() bool {
		return count(`SELECT count(*) FROM pg_locks w
			JOIN pg_locks h ON h.pid = w.pid AND h.relation = to_regclass('revocations') AND h.mode = 'RowExclusiveLock' AND h.granted
			JOIN pg_stat_activity s ON s.pid = w.pid AND s.query LIKE 'INSERT INTO "changes"%'
			WHERE w.relation = to_regclass('changes') AND NOT w.granted`) > 0
	})

	type locked struct {
		lock *tableLock
		err  error
	}
	lockCtx, cancel := context.WithCancel(ctx)
	queued := make(chan locked, 1)
	go func() {
		l, err := lockTable(lockCtx, dsn, "revocations")
		queued <- locked{l, err}
	}()
	var held *locked
	t.Cleanup(func() {
		cancel() // a lock still queued is given up
		if held == nil {
			r := <-queued
			held = &r
		}
		if held.lock != nil {
			held.lock.release()
		}
	})
	waitFor(t, "the revocations lock queues behind the revoking transaction", func() bool {
		select {
		case r := <-queued:
			held = &r
			t.Fatalf("set-up: the revocations table was locked (%v) before the revocation committed", r.err)
		default:
		}
		return count(`SELECT count(*) FROM pg_locks
			WHERE relation = to_regclass('revocations') AND mode = 'AccessExclusiveLock' AND NOT granted`) > 0
	})
	feed.release()

	select {
	case r := <-queued:
		held = &r
	case <-time.After(propagated):
		t.Fatal("the revocations table was not locked once the revocation could commit")
	}
	if held.err != nil {
		t.Fatal(held.err)
	}
	jti, _ := tokenClaims(t, tok)["jti"].(string)
	if count(`SELECT count(*) FROM changes WHERE kind = 'revoke' AND jti = $1`, jti) != 1 {
		t.Fatal("set-up: the revocation had not committed when the revocations table was locked")
	}
	// The revoking node applies its own change before it answers, and that
	// waits on the lock too, until its poll timeout.
	select {
	case err := <-revoked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the revocation endpoint did not answer")
	}
	return held.lock.release
}

// revoke asks the RFC 7009 endpoint at base to revoke tok (it runs in a
// goroutine of its own, so it reports instead of failing the test).
func revoke(base, clientID, secret, tok string) error {
	req, err := http.NewRequest(http.MethodPost, base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation: %d", resp.StatusCode)
	}
	return nil
}

// pgConnect opens a PostgreSQL connection of the test's own, closed when
// the test ends.
func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// tableLock holds a table in ACCESS EXCLUSIVE mode (no one else reads or
// writes it meanwhile) in a transaction of its own connection.
type tableLock struct {
	conn *pgx.Conn
	tx   pgx.Tx
}

// lockTable waits until it holds table, or until ctx ends.
func lockTable(ctx context.Context, dsn, table string) (*tableLock, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("locking %s: %w", table, err)
	}
	return &tableLock{conn: conn, tx: tx}, nil
}

// release ends the lock's transaction; it may be called again.
func (l *tableLock) release() {
	if l.conn.IsClosed() {
		return
	}
	_ = l.tx.Rollback(context.Background())
	l.conn.Close(context.Background())
}
