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
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

var (
	propagation          = flag.Bool("propagation", false, "run only the propagation phase: 3 caddy processes on PostgreSQL, full token caches, changes on one node timed until the others refuse")
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
	log              string // its log file
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
	bin := filepath.Join(tmp, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "./integration/caddybin").CombinedOutput(); err != nil {
		return fmt.Errorf("building caddy (run from the repository's root): %v\n%s", err, out)
	}
	upstream, stop, err := staticUpstream()
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
	start := time.Now()
	if err := fillCaches(client, nodes, clients, conns); err != nil {
		return err
	}
	fmt.Printf("caches filled in %v (%d guarded requests)\n", time.Since(start).Round(time.Millisecond), len(nodes)*len(clients)*perClient)
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

// commitWatch LISTENs for the change feed's notifications, as every node
// does, and notes when each arrives: when a change committed, as the nodes
// learn it.
type commitWatch struct {
	conn   *pgx.Conn
	cancel context.CancelFunc
	done   chan struct{}
	at     chan time.Time
}

func watchCommits(ctx context.Context) (*commitWatch, error) {
	conn, err := pgx.Connect(ctx, os.Getenv("SCOPEGATE_DSN"))
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{store.NotifyChannel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &commitWatch{conn: conn, cancel: cancel, done: make(chan struct{}), at: make(chan time.Time, 1024)}
	go func() {
		defer close(w.done)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return
			}
			select {
			case w.at <- time.Now():
			default:
			}
		}
	}()
	return w, nil
}

// drain forgets the notifications that arrived so far.
func (w *commitWatch) drain() {
	for {
		select {
		case <-w.at:
		default:
			return
		}
	}
}

// next is when the first notification since drain arrived.
func (w *commitWatch) next() (time.Time, error) {
	select {
	case at := <-w.at:
		return at, nil
	case <-time.After(refusalBound):
		return time.Time{}, fmt.Errorf("no change notification within %v", refusalBound)
	}
}

func (w *commitWatch) close() {
	w.cancel()
	<-w.done
	w.conn.Close(context.Background())
}

// fillCaches has every node let every client's tokens through its guarded
// route once, from conns workers.
func fillCaches(client *http.Client, nodes []*loadNode, clients []*loadClient, conns int) error {
	var toks []string
	for _, c := range clients {
		toks = append(toks, c.tokens...)
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(toks)*len(nodes) {
					return
				}
				n := nodes[i%len(nodes)]
				if status, err := guarded(client, n, toks[i/len(nodes)]); err != nil || status != http.StatusOK {
					failed.CompareAndSwap(nil, fmt.Errorf("filling node %s's cache: %d %v", n.name, status, err))
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return nil
}

// printCacheEntries prints how many tokens each node caches, from its
// metrics.
func printCacheEntries(nodes []*loadNode) error {
	var parts []string
	for _, n := range nodes {
		v, err := metric(n, `caddy_scopegate_cache_entries{cache="tokens"}`)
		if err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("%s %s", n.name, v))
	}
	fmt.Printf("cached tokens: %s\n", strings.Join(parts, ", "))
	return nil
}

// metric reads one series from a node's /metrics.
func metric(n *loadNode, series string) (string, error) {
	resp, err := http.Get(n.admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("node %s's /metrics has no %s", n.name, series)
}

// guarded sends one GET with tok to n's guarded route.
func guarded(client *http.Client, n *loadNode, tok string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, n.url+"/api/propagation", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// post sends a POST (a form when form is not nil) and wants a 200.
func post(client *http.Client, target, authorization string, form url.Values) error {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", authorization)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", target, resp.StatusCode, body)
	}
	return nil
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// mintForLoad opens the run's database as the operator's shell does,
// makes the bootstrap admin and n demo.read clients, and mints perClient
// tokens for each with the shared key ring, the claims the token endpoint
// gives a client_credentials token.
func mintForLoad(ctx context.Context, cfgPath string, n, perClient int) (clients []*loadClient, adminID, adminSecret string, err error) {
	a, err := app.AppFromConfigFile(cfgPath, "")
	if err != nil {
		return nil, "", "", err
	}
	if adminID, adminSecret, err = a.Bootstrap(ctx, false); err != nil { // opens and closes the database
		return nil, "", "", err
	}
	if err := a.OpenStandalone(); err != nil {
		return nil, "", "", err
	}
	defer a.CloseStandalone()
	now := time.Now()
	for i := range n {
		c := &loadClient{id: app.NewClientID()}
		secretValue, digest, ct, err := a.NewSecret(c.id)
		if err != nil {
			return nil, "", "", err
		}
		c.secret = secretValue
		row := &store.Client{ID: c.id, TenantID: store.DefaultTenantID, Name: "propagation-" + strconv.Itoa(i), AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
			OwnerID: c.id, SecretDigest: digest, SecretCiphertext: ct}
		if err := a.Store().CreateClient(ctx, row, store.Actor{Principal: "load"}); err != nil {
			return nil, "", "", err
		}
		for range perClient {
			raw, err := a.Sign(&token.Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer: a.Issuer, Subject: c.id, Audience: jwt.ClaimStrings{a.Audience},
					ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
					ID: secret.NewToken(16),
				},
				ClientID: c.id, Scope: "demo.read", Tenant: store.DefaultTenantID, Legs: 2,
			})
			if err != nil {
				return nil, "", "", err
			}
			c.tokens = append(c.tokens, raw)
		}
		clients = append(clients, c)
	}
	return clients, adminID, adminSecret, nil
}

// freshDatabase creates a PostgreSQL database for the run and returns its
// DSN and what drops it.
func freshDatabase(ctx context.Context) (dsn string, drop func(), err error) {
	base := *postgresDSN
	if base == "" {
		base = os.Getenv("SCOPEGATE_TEST_POSTGRES_DSN")
	}
	if base == "" {
		base = "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable"
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("the propagation phase needs PostgreSQL (-postgres): %w", err)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "scopegate_load_" + hex.EncodeToString(suffix)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	return base + " dbname=" + name, func() {
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "load: dropping database %s: %v\n", name, err)
		}
		conn.Close(ctx)
	}, nil
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// startNode runs cfg in a caddy process with its own ports and data
// directory (the rest of its environment is the run's), waits until it
// answers, and returns what stops it.
func startNode(bin, cfg, tmp, name string) (*loadNode, func(), error) {
	port, demo, admin := freePort(), freePort(), freePort()
	logPath := filepath.Join(tmp, "node-"+name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(tmp, "node-"+name), "XDG_CONFIG_HOME="+filepath.Join(tmp, "node-"+name),
		"SCOPEGATE_PORT="+strconv.Itoa(port), "SCOPEGATE_DEMO_PORT="+strconv.Itoa(demo),
		"SCOPEGATE_CADDY_ADMIN=127.0.0.1:"+strconv.Itoa(admin))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(done) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	n := &loadNode{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), admin: "http://127.0.0.1:" + strconv.Itoa(admin), log: logPath}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			return nil, nil, fmt.Errorf("node %s exited at start; its log: %s", name, logPath)
		default:
		}
		if resp, err := http.Get(n.url + "/.well-known/jwks.json"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("node %s did not answer within a minute", name)
		}
	}
}

// staticUpstream serves a fixed small JSON body on 127.0.0.1.
func staticUpstream() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})}
	go srv.Serve(l)
	return l.Addr().String(), func() { srv.Close() }, nil
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
