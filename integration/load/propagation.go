package main

// The propagation phase (-propagation) measures how long a change made on
// one node takes to reach the others when their token caches are full: it
// builds caddy (integration/caddybin) once, runs three processes of the
// shipped postgres.Caddyfile on a PostgreSQL database of their own (created
// for the run and dropped after it) with one master key and one issuer,
// caches -propagation-tokens tokens on every node (minted by the shared key
// ring, each let through once by every node's guarded route), then disables
// -propagation-changes clients one after the other on node A, and revokes
// as many tokens, and for each change polls nodes B and C with the changed
// client's cached token until they refuse it. It prints the median, p99 and
// max of the time from sending each change to A until B and C refuse, and,
// to tell the write's own cost from the propagation, until A answered, until
// the commit's notification reached the load process (which LISTENs as the
// nodes do), and from that notification until B and C refused.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

var (
	propagation          = flag.Bool("propagation", true, "end with the propagation phase: 3 caddy processes on PostgreSQL, full token caches, changes on one node timed until the others refuse")
	propagationTokens    = flag.Int("propagation-tokens", 100_000, "tokens cached on every node before the changes (the default cache_size is 100000)")
	propagationChanges   = flag.Int("propagation-changes", 50, "clients disabled, then tokens revoked, one after the other")
	propagationPerClient = flag.Int("propagation-per-client", 100, "cached tokens per client (the tokens a disable drops on each node)")
	postgresDSN          = flag.String("postgres", "", "PostgreSQL server for the propagation phase (default $SCOPEGATE_TEST_POSTGRES_DSN, else the local test server)")
)

// refusalBound is how long a poller waits for a node to refuse a changed
// token before the run fails: far beyond any poll interval.
const refusalBound = 30 * time.Second

// loadClient is a client of the run and the tokens minted for it.
type loadClient struct {
	id, secret string
	tokens     []string
}

// loadNode is a caddy process of the run.
type loadNode struct {
	name, url, admin string
	log              string            // its log file
	env              map[string]string // what its environment adds to the run's
	pid              int
}

func runPropagation(conns int) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "scopegate-propagation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dsn, drop, err := freshDatabase(ctx)
	if err != nil {
		return err
	}
	defer drop()
	bin, err := buildCaddy(tmp)
	if err != nil {
		return err
	}
	upstream, stop, err := staticUpstreamServer()
	if err != nil {
		return err
	}
	defer stop()
	master := make([]byte, 32)
	rand.Read(master)
	for k, v := range map[string]string{
		"SCOPEGATE_DSN": dsn, "SCOPEGATE_MASTER_KEY": base64.StdEncoding.EncodeToString(master),
		"SCOPEGATE_ISSUER": "https://load.scopegate.test", "SCOPEGATE_UPSTREAM": upstream,
		"XDG_DATA_HOME": filepath.Join(tmp, "data"), "XDG_CONFIG_HOME": filepath.Join(tmp, "config"),
	} {
		os.Setenv(k, v)
	}
	cfg, _ := filepath.Abs("caddyfiles/postgres.Caddyfile")
	// The set-up opens the database in this process as the operator's shell
	// does; keep its logs (a line per client made) off the report.
	if err := caddy.Load([]byte(`{"admin":{"disabled":true},"logging":{"logs":{"default":{"level":"ERROR"}}}}`), true); err != nil {
		return err
	}
	defer caddy.Stop()

	var nodes []*loadNode
	for _, name := range []string{"A", "B", "C"} {
		n, stopNode, err := startNode(bin, cfg, tmp, name)
		if err != nil {
			return err
		}
		defer stopNode()
		nodes = append(nodes, n)
	}
	if err := measurePropagation(ctx, cfg, nodes, conns); err != nil {
		for _, n := range nodes {
			fmt.Fprintf(os.Stderr, "the end of node %s's log:\n%s\n", n.name, tail(n.log, 20))
		}
		return err
	}
	return nil
}

// measurePropagation fills the nodes' caches and measures the changes.
func measurePropagation(ctx context.Context, cfg string, nodes []*loadNode, conns int) error {
	perClient := max(*propagationPerClient, 1)
	clients, adminID, adminSecret, err := mintForLoad(ctx, cfg, (*propagationTokens+perClient-1)/perClient, perClient)
	if err != nil {
		return err
	}
	if n := *propagationChanges; 2*n > len(clients) {
		return fmt.Errorf("-propagation-changes %d needs %d clients, the run has %d: raise -propagation-tokens", n, 2*n, len(clients))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, DisableCompression: true}}

	fmt.Printf("scopegate propagation: 3 nodes on PostgreSQL, %d clients × %d tokens cached on each node\n", len(clients), perClient)
	for _, n := range nodes { // to profile one: go tool pprof <admin>/debug/pprof/profile
		fmt.Printf("node %s: %s, Caddy admin %s\n", n.name, n.url, n.admin)
	}
	start := time.Now()
	if err := fillCaches(client, nodes, clients, conns); err != nil {
		return err
	}
	fmt.Printf("caches filled in %v (%d guarded requests: each token twice on each node)\n", time.Since(start).Round(time.Millisecond), 2*len(nodes)*len(clients)*perClient)
	if err := printCacheEntries(nodes); err != nil {
		return err
	}

	adminTok, err := getToken(client, nodes[0].url, adminID, adminSecret)
	if err != nil {
		return err
	}
	changes := *propagationChanges
	disable := func(c *loadClient) error {
		return post(client, nodes[0].url+"/admin/clients/"+c.id+"/disable", "Bearer "+adminTok, nil)
	}
	revoke := func(c *loadClient) error {
		return post(client, nodes[0].url+"/oauth2/revoke", basicAuth(c.id, c.secret), url.Values{"token": {c.tokens[0]}})
	}
	commits, err := watchCommits(ctx)
	if err != nil {
		return err
	}
	defer commits.close()
	for _, series := range []struct {
		what    string
		clients []*loadClient
		change  func(*loadClient) error
	}{
		{"disable", clients[:changes], disable},
		{"revoke", clients[changes : 2*changes], revoke},
	} {
		var answered, committed, each, both, afterCommit []time.Duration
		for _, c := range series.clients {
			m, err := propagate(client, commits, nodes[1:], c.tokens[0], func() error { return series.change(c) })
			if err != nil {
				return fmt.Errorf("%s of %s: %w", series.what, c.id, err)
			}
			answered, committed = append(answered, m.answered), append(committed, m.committed)
			each = append(each, m.refused...)
			both = append(both, slices.Max(m.refused))
			for _, r := range m.refused {
				afterCommit = append(afterCommit, r-m.committed)
			}
		}
		fmt.Printf("%s on A, from sending it:\n", series.what)
		fmt.Printf("  A answered:        %s\n", summary(answered))
		fmt.Printf("  committed:         %s (its notification reached this process)\n", summary(committed))
		fmt.Printf("  refused on B or C: %s\n", summary(each))
		fmt.Printf("  refused on both:   %s\n", summary(both))
		fmt.Printf("  refused on B or C, from the commit's notification: %s\n", summary(afterCommit))
	}
	return printCacheEntries(nodes)
}

// measured is one change's timings, from just before it was sent.
type measured struct {
	answered  time.Duration   // the change's answer came back
	committed time.Duration   // its notification reached this process
	refused   []time.Duration // each node refused the token
}

// propagate makes a change with change and measures how long until each of
// nodes refuses tok (which each node accepts from its cache before).
func propagate(client *http.Client, commits *commitWatch, nodes []*loadNode, tok string, change func() error) (*measured, error) {
	for _, n := range nodes {
		if status, err := guarded(client, n, tok); err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("node %s before the change: %d %v", n.name, status, err)
		}
	}
	refusedAt := make([]time.Time, len(nodes))
	errs := make([]error, len(nodes))
	ctx, cancel := context.WithTimeout(context.Background(), refusalBound)
	defer cancel()
	var wg, polling sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		polling.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for ctx.Err() == nil {
				status, err := guarded(client, n, tok)
				if first {
					polling.Done()
					first = false
				}
				if err != nil {
					errs[i] = err
					return
				}
				switch status {
				case http.StatusOK:
				case http.StatusUnauthorized:
					refusedAt[i] = time.Now()
					return
				default:
					errs[i] = fmt.Errorf("node %s answered %d", n.name, status)
					return
				}
			}
			if first {
				polling.Done()
			}
			errs[i] = fmt.Errorf("node %s still accepts the token after %v", n.name, refusalBound)
		}()
	}
	polling.Wait()
	commits.drain()
	sent := time.Now()
	if err := change(); err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	m := &measured{answered: time.Since(sent)}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	at, err := commits.next()
	if err != nil {
		return nil, err
	}
	m.committed = at.Sub(sent)
	for i, at := range refusedAt {
		if m.refused = append(m.refused, at.Sub(sent)); at.Before(sent) {
			return nil, fmt.Errorf("node %s refused the token before the change was sent", nodes[i].name)
		}
	}
	return m, nil
}

// summary is the median, p99 and max of ds.
func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("n=%d median %v, p99 %v, max %v", len(s), median(s), percentile(s, 99), percentile(s, 100))
}

func median(ds []time.Duration) time.Duration {
	return percentile(ds, 50)
}

// percentile is the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1].Round(10 * time.Microsecond)
}
