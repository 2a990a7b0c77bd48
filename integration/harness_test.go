// Package integration runs Scopegate inside a real Caddy (in-process, the
// config adapted from the very Caddyfiles in caddyfiles/) in front of real
// upstream HTTP servers, on SQLite and on PostgreSQL. Caddy's running config
// is process-wide, so every test that starts Caddy lives in this package and
// none runs in parallel.
package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate"
	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

func TestMain(m *testing.M) {
	// Keep Caddy's data (SQLite, master key) and autosaved config out of $HOME.
	dir, err := os.MkdirTemp("", "scopegate-integration-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// upstream is a real HTTP server standing behind the gateway; it records
// the headers of each request and echoes the identity it was handed.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	last http.Header
	hits int
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Trailers count as headers, as upstreams that merge them do
		// (Tomcat's allowedTrailerHeaders); they arrive with the body's end.
		seen := r.Header.Clone()
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range r.Trailer {
			seen[k] = append(seen[k], v...)
		}
		u.mu.Lock()
		u.last = seen
		u.hits++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method":    r.Method,
			"path":      r.URL.Path,
			"client_id": r.Header.Get("X-Scopegate-Client-Id"),
			"user_id":   r.Header.Get("X-Scopegate-User-Id"),
			"tenant":    r.Header.Get("X-Scopegate-Tenant"),
			"scopes":    r.Header.Get("X-Scopegate-Scopes"),
			"legs":      r.Header.Get("X-Scopegate-Legs"),
			"actor":     r.Header.Get("X-Scopegate-Actor-Client-Id"),
		})
	}))
	t.Cleanup(u.Close)
	return u
}

// Last returns the headers of the most recent request and the hit count.
func (u *upstream) Last() (http.Header, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.hits
}

// gateway is a running Caddy with a Scopegate config.
type gateway struct {
	URL      string
	CfgPath  string
	Upstream *upstream
	Driver   string
	DataDir  string
}

// handedOut holds every port freePort returned in this test run.
var handedOut sync.Map

// freePort returns a port free on 127.0.0.1 now and never returned before
// in this run: a port is released when chosen, and the kernel would
// otherwise hand it out again to the next caller (the demo site's port equal
// to the gateway's, once in a few hundred runs).
func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
}

// unsetEnv, as a value in startGateway's extraEnv, unsets the variable, so
// the Caddyfile's own default applies.
const unsetEnv = "\x00unset" // no real value holds a NUL byte

// startGateway loads caddyfiles/<file> (or file, when absolute) into the in-process Caddy with fresh
// ports, a fresh database of the driver's kind and a real upstream. The
// Caddyfiles read their ports, upstream and database from the environment,
// so the test runs the shipped file itself, not a copy.
func startGateway(t *testing.T, file, driver string, extraEnv ...string) *gateway {
	t.Helper()
	up := newUpstream(t) // bound first, so no port chosen below is its
	port := freePort(t)
	t.Setenv("SCOPEGATE_PORT", strconv.Itoa(port))
	t.Setenv("SCOPEGATE_DEMO_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("SCOPEGATE_UPSTREAM", up.Listener.Addr().String())
	t.Setenv("SCOPEGATE_CADDY_ADMIN", "off")
	// The multi-node files take their issuer from the environment; each
	// test gateway issues as itself unless the test says otherwise.
	t.Setenv("SCOPEGATE_ISSUER", fmt.Sprintf("http://localhost:%d", port))
	dataDir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dataDir)
	if driver == store.Postgres {
		t.Setenv("SCOPEGATE_DSN", storetest.DSN(t, store.Postgres))
		t.Setenv("SCOPEGATE_MASTER_KEY", apptest.MasterKey)
		// The per-system files read their database from the environment.
		t.Setenv("SCOPEGATE_DATABASE", "postgres {env.SCOPEGATE_DSN}")
	}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		if extraEnv[i+1] == unsetEnv {
			t.Setenv(extraEnv[i], "") // restores the variable when the test ends
			os.Unsetenv(extraEnv[i])
			continue
		}
		t.Setenv(extraEnv[i], extraEnv[i+1])
	}
	path := file // an absolute path: a Caddyfile the test wrote
	if !filepath.IsAbs(file) {
		var err error
		if path, err = filepath.Abs(filepath.Join("..", "caddyfiles", file)); err != nil {
			t.Fatal(err)
		}
	}
	cfgJSON := withoutAutosave(t, adapt(t, path))
	if err := caddy.Load(cfgJSON, true); err != nil {
		t.Fatalf("loading %s into Caddy: %v", file, err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping Caddy: %v", err)
		}
	})
	g := &gateway{URL: fmt.Sprintf("http://127.0.0.1:%d", port), CfgPath: path, Upstream: up, Driver: driver, DataDir: dataDir}
	waitReady(t, g.URL+"/.well-known/jwks.json")
	return g
}

func adapt(t *testing.T, path string) []byte {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": path})
	if err != nil {
		t.Fatalf("adapting %s: %v", path, err)
	}
	// A warning (an unformatted file, a deprecated option) would rot the
	// examples as surely as an error.
	for _, w := range warnings {
		t.Errorf("adapt warning %s:%d: %s", w.File, w.Line, w.Message)
	}
	return cfgJSON
}

// withoutAutosave keeps Caddy from saving each test's config to disk.
func withoutAutosave(t *testing.T, cfgJSON []byte) []byte {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	admin, _ := cfg["admin"].(map[string]any)
	if admin == nil {
		admin = map[string]any{}
	}
	admin["config"] = map[string]any{"persist": false}
	cfg["admin"] = admin
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitReady polls url until it answers 200: it returns as soon as Caddy is
// up, and gives up only after a minute (a busy machine starts slowly).
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200", url)
}

// standaloneApp opens the gateway's own database from outside Caddy (as the
// bootstrap command does), for set-up steps an operator does from a shell.
func (g *gateway) standaloneApp(t *testing.T) *app.App {
	t.Helper()
	a, err := app.AppFromConfigFile(g.CfgPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.OpenStandalone(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.CloseStandalone() })
	return a
}

// eachDriver runs fn against the SQLite quickstart and the PostgreSQL file.
func eachDriver(t *testing.T, fn func(t *testing.T, g *gateway)) {
	for _, tc := range []struct{ file, driver string }{
		{"quickstart.Caddyfile", store.SQLite},
		{"postgres.Caddyfile", store.Postgres},
	} {
		t.Run(tc.driver, func(t *testing.T) { fn(t, startGateway(t, tc.file, tc.driver)) })
	}
}
