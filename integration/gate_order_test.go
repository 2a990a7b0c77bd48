package integration

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Caddyfiles an operator could plausibly write in which the guard never
// runs for the requests it seems to protect do not load: a catch-all
// `handle { reverse_proxy }` next to the quickstart's guarded /api/ route
// (Caddy sorts handle before route, so it would proxy /api/ unguarded), and
// a named route that proxies, invoked before the guard; a reverse_proxy with
// handle_response before the guard (the upstream acts first); handle_errors
// that proxies (a refused DELETE would reach the upstream as sent). Nothing
// listens afterwards, so no request reached the upstream.
func TestGuardThatNeverRunsDoesNotLoad(t *testing.T) {
	for name, site := range map[string]string{
		"catch-all handle": "\thandle {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
		// The same written with a path (config red team: Caddy's matchers
		// are pointers, and the check took these for narrower blocks).
		"catch-all handle /*":      "\thandle /* {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
		"catch-all handle_path /*": "\thandle_path /* {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
		// A proxied path that covers the guarded /api/* (handle sorts first).
		"handle /api* proxying": "\thandle /api* {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
		// Inside a route the written order applies: a proxy with a matcher
		// covering the route's runs first.
		"matched proxy before the guard": "\troute /rp/* {\n\t\treverse_proxy /rp/* {$SCOPEGATE_UPSTREAM}\n\t\tscopegate_guard demo.read\n\t}\n",
		"invoke before guard":            "\troute /inv/* {\n\t\tinvoke backend\n\t\tscopegate_guard demo.read\n\t}\n",
		// The upstream acted on the request before the guard ran.
		"proxy with handle_response before guard": "\troute /hr/* {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM} {\n\t\t\t@err status 5xx\n\t\t\thandle_response @err {\n\t\t\t\trespond \"down\"\n\t\t\t}\n\t\t}\n\t\tscopegate_guard demo.read\n\t}\n",
		// A refused DELETE would be proxied as it came.
		"handle_errors proxying": "\thandle_errors {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
		// Statuses named, among them a refusal's: it gets the refusals.
		"handle_errors 4xx proxying": "\thandle_errors 4xx {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
		"handle_errors 401 proxying": "\thandle_errors 401 {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n",
	} {
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t)
			port := freePort(t)
			t.Setenv("SCOPEGATE_PORT", strconv.Itoa(port))
			t.Setenv("SCOPEGATE_DEMO_PORT", strconv.Itoa(freePort(t)))
			t.Setenv("SCOPEGATE_UPSTREAM", up.Listener.Addr().String())
			t.Setenv("SCOPEGATE_CADDY_ADMIN", "off")
			t.Setenv("XDG_DATA_HOME", t.TempDir())
			path := caddyfileVariant(t, "quickstart.Caddyfile", "", site)
			if name == "invoke before guard" {
				body, err := os.ReadFile(path)
				if err == nil {
					err = os.WriteFile(path, append(body, "\n&(backend) {\n\treverse_proxy {$SCOPEGATE_UPSTREAM}\n}\n"...), 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			err := caddy.Load(withoutAutosave(t, adapt(t, path)), true)
			if err == nil {
				_ = caddy.Stop()
				t.Fatal("the config loaded")
			}
			if !strings.Contains(err.Error(), "never runs") && !strings.Contains(err.Error(), "guards nothing") && !strings.Contains(err.Error(), "handle_errors proxies") {
				t.Fatalf("unclear refusal: %v", err)
			}
			if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/api/x"); err == nil {
				resp.Body.Close()
				t.Fatalf("something answers on the gateway's port: %d", resp.StatusCode)
			}
			if _, hits := up.Last(); hits != 0 {
				t.Fatalf("the upstream was called %d times", hits)
			}
		})
	}
}

// What the check allows loads and guards: handle_errors proxying only
// statuses no refusal has (502 503), and a proxied carve-out before a
// guard of the rest. A request with no token to the guarded path is still
// refused and reaches no upstream; the carve-out is proxied.
func TestAllowedShapesLoadAndGuard(t *testing.T) {
	site := "\thandle_errors 502 503 {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n" +
		"\thandle /open/* {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n"
	g := startGateway(t, caddyfileVariant(t, "quickstart.Caddyfile", "", site), "sqlite")
	up := g.Upstream
	if status, _, _ := call(t, "DELETE", g.URL+"/api/x", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("DELETE /api/x with no token: %d, want 401", status)
	}
	if _, hits := up.Last(); hits != 0 {
		t.Fatalf("the refused request reached the upstream (%d calls)", hits)
	}
	resp, err := http.Get(g.URL + "/open/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, hits := up.Last(); resp.StatusCode != http.StatusOK || hits != 1 {
		t.Fatalf("GET /open/x: %d, upstream calls %d; want it proxied", resp.StatusCode, hits)
	}
}
