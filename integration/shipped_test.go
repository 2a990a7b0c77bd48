package integration

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
)

// systemRoute is, for each system's Caddyfile, a client a newcomer would
// make through the admin API and a guarded request its token passes.
type systemRoute struct {
	file, tokenPath, method, path string
	// client is the body of POST /admin/clients; connectAs names a user to
	// create and connect the client as (3-legged tokens), "" for none.
	client    map[string]any
	connectAs string
	scopes    string
}

var systemRoutes = []systemRoute{
	{file: "bits.Caddyfile", tokenPath: "/v1/oauth2/token", method: "GET", path: "/v1/applications/app-1",
		client: map[string]any{"name": "acme", "scopes": []string{"application"}}, scopes: "application"},
	{file: "nitro.Caddyfile", tokenPath: "/oauth/token", method: "PUT", path: "/api/admin/groups/g1",
		client: map[string]any{"name": "admin-tasks", "scopes": []string{"global"}}, scopes: "global"},
	{file: "bigtincan.Caddyfile", tokenPath: "/oauth/token", method: "GET", path: "/v5/files/1",
		client: map[string]any{"name": "sync", "scopes": []string{"files.read"}}, connectAs: "eric.zelman", scopes: "files.read"},
	{file: "imagen.Caddyfile", tokenPath: "/oauth/token", method: "GET", path: "/api/records",
		client: map[string]any{"name": "importer", "scopes": []string{"readUsersData"}}, connectAs: "media-importer", scopes: "readUsersData"},
	{file: "tenants.Caddyfile", tokenPath: "/oauth2/token", method: "GET", path: "/api/reports",
		client: map[string]any{"name": "reporter", "scopes": []string{"reports.read"}}, scopes: "reports.read"},
}

// newcomer makes the route's client (and its connect-as user) on g and
// returns its credentials and the user's id.
func (sr systemRoute) newcomer(t *testing.T, g *gateway, admin string) (id, secret, userID string) {
	t.Helper()
	body := map[string]any{}
	for k, v := range sr.client {
		body[k] = v
	}
	if sr.connectAs != "" {
		userID = createUser(t, g, admin, map[string]any{"username": sr.connectAs})
		body["connect_as_user_id"] = userID
	}
	id, secret = createClient(t, g, admin, body)
	return id, secret, userID
}

// Every system's Caddyfile, run as shipped (no SCOPEGATE_UPSTREAM, no
// SCOPEGATE_DEMO_PORT), answers a guarded request with 200 from its own
// demo upstream, which echoes the identity the gateway handed it: the
// client, its tenant, the user for a connect-as client, the scopes and the
// kind of token. Only the gateway's own port is moved off 8080; the demo
// upstream is at its default 127.0.0.1:8081.
func TestSystemFilesAnswerFromTheirDemoUpstream(t *testing.T) {
	for _, sr := range systemRoutes {
		t.Run(sr.file, func(t *testing.T) {
			eachDriverAsShipped(t, sr.file, func(t *testing.T, g *gateway) {
				admin := bootstrapAdmin(t, g, sr.tokenPath)
				id, secret, userID := sr.newcomer(t, g, admin)
				tok := mustTokenAt(t, g, sr.tokenPath, id, secret)
				status, body, _ := call(t, sr.method, g.URL+sr.path, tok, nil)
				legs := "2"
				if userID != "" {
					legs = "3"
				}
				if status != http.StatusOK || body["upstream"] != "demo" || body["client_id"] != id || body["user_id"] != userID ||
					body["tenant"] != store.DefaultTenantID || body["scopes"] != sr.scopes || body["legs"] != legs || body["path"] != sr.path {
					t.Fatalf("%s %s through %s as shipped: %d %v", sr.method, sr.path, sr.file, status, body)
				}
				if _, hits := g.Upstream.Last(); hits != 0 {
					t.Fatalf("the test's own upstream was called %d times; the file's demo upstream should answer", hits)
				}
			})
		})
	}
}

// eachDriverAsShipped is eachDriverWith with the file's own upstream
// defaults: SCOPEGATE_UPSTREAM and SCOPEGATE_DEMO_PORT unset, so the guarded
// routes reach the demo site at 127.0.0.1:8081.
func eachDriverAsShipped(t *testing.T, file string, fn func(t *testing.T, g *gateway)) {
	for _, driver := range []string{store.SQLite, store.Postgres} {
		t.Run(driver, func(t *testing.T) {
			if l, err := net.Listen("tcp", "127.0.0.1:8081"); err != nil {
				t.Fatalf("the shipped demo upstream's port 127.0.0.1:8081 is taken by another process: %v", err)
			} else {
				l.Close()
			}
			fn(t, startGateway(t, file, driver, "SCOPEGATE_UPSTREAM", unsetEnv, "SCOPEGATE_DEMO_PORT", unsetEnv))
		})
	}
}

// startSecondNode runs the same Caddyfile as g in another process (the
// built caddy), with the environment of g's test (the PostgreSQL DSN and
// schema, SCOPEGATE_DATABASE, SCOPEGATE_MASTER_KEY) but its own ports and
// its own data directory, and returns its URL. It stops with the test.
func startSecondNode(t *testing.T, g *gateway) string {
	t.Helper()
	return startNodeProcess(t, g.CfgPath, g.Upstream).URL
}

// nodeProcess is a gateway node running as a caddy process of its own.
type nodeProcess struct {
	URL      string // the site
	AdminURL string // Caddy's admin endpoint (/metrics)
}

// startNodeProcess runs cfgPath in a process of the built caddy with the
// test's environment, its own ports (the site, the demo site, Caddy's admin
// endpoint), its own data directory and up as its upstream, and waits until
// it answers. It stops with the test; its log is shown if the test fails.
func startNodeProcess(t *testing.T, cfgPath string, up *upstream) nodeProcess {
	t.Helper()
	bin := caddyBinary(t)
	port, demo, admin := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(),
		"SCOPEGATE_PORT="+strconv.Itoa(port), "SCOPEGATE_DEMO_PORT="+strconv.Itoa(demo),
		"SCOPEGATE_UPSTREAM="+up.Listener.Addr().String(),
		"SCOPEGATE_CADDY_ADMIN=127.0.0.1:"+strconv.Itoa(admin))
	var log strings.Builder // written by exec's copying goroutine until Wait returns
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
		if t.Failed() {
			t.Logf("the log of the node at %s:\n%s", url, log.String())
		}
	})
	waitReadyOrExit(t, url+"/.well-known/jwks.json", done)
	return nodeProcess{URL: url, AdminURL: "http://127.0.0.1:" + strconv.Itoa(admin)}
}

// waitReadyOrExit is waitReady for a process: it gives up as soon as the
// process ends (a start-up error), or after a minute on a busy machine.
func waitReadyOrExit(t *testing.T, url string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("the node serving %s exited before it answered", url)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200", url)
}

// Every system's Caddyfile that can run on PostgreSQL reads the master key
// from SCOPEGATE_MASTER_KEY, so a second node of the same file on the same
// database, with the same key and its own data directory, serves the same
// clients: a client made through node 1's admin API gets a token from node
// 2 with its secret, and that token passes node 2's guard and node 1's: both
// nodes issue as the same SCOPEGATE_ISSUER.
func TestSystemFilesSecondNodeOnPostgres(t *testing.T) {
	for _, sr := range systemRoutes {
		t.Run(sr.file, func(t *testing.T) {
			g := startGateway(t, sr.file, store.Postgres)
			admin := bootstrapAdmin(t, g, sr.tokenPath)
			id, secret, userID := sr.newcomer(t, g, admin)
			node2 := &gateway{URL: startSecondNode(t, g), CfgPath: g.CfgPath, Upstream: g.Upstream, Driver: g.Driver}
			tok := mustTokenAt(t, node2, sr.tokenPath, id, secret)
			status, body, _ := call(t, sr.method, node2.URL+sr.path, tok, nil)
			if status != http.StatusOK || body["client_id"] != id || body["user_id"] != userID {
				t.Fatalf("node 2's token on node 2: %d %v", status, body)
			}
			status, body, _ = call(t, sr.method, g.URL+sr.path, tok, nil)
			if status != http.StatusOK || body["client_id"] != id || body["user_id"] != userID {
				t.Fatalf("node 2's token on node 1: %d %v", status, body)
			}
		})
	}
}
