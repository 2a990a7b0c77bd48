package guard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// echoBody is what the routes' upstream (a static_response) answers: the
// impersonation headers and the user it received.
const echoBody = "on-behalf={http.request.header.X-On-Behalf} act-as={http.request.header.X-Act-As-User} user={http.request.header.X-Scopegate-User-Id}"

// leakedBody is what the upstream answers instead when either impersonation
// header reaches it at all, even empty (which echoBody cannot tell from
// absent).
const leakedBody = "an impersonation header reached the upstream"

// echoUpstream is the routes' handler behind the guard: leakedBody if an
// impersonation header is present, else echoBody.
var echoUpstream = map[string]any{"handler": "subroute", "routes": []map[string]any{
	{
		// Matcher sets are ORed; a header with an empty list matches when present.
		"match":    []map[string]any{{"header": map[string][]string{"X-On-Behalf": {}}}, {"header": map[string][]string{"X-Act-As-User": {}}}},
		"handle":   []map[string]any{{"handler": "static_response", "body": leakedBody}},
		"terminal": true,
	},
	{"handle": []map[string]any{{"handler": "static_response", "body": echoBody}}},
}}

// provisionConfig provisions a real Caddy config, the scopegate app and an
// HTTP server whose routes hold the given guards (each followed by the
// echoUpstream), the way `caddy run` does, without starting the server (no
// port is bound), on the database dsn. It returns the server, to serve
// requests through its compiled routes, and the app.
func provisionConfig(t *testing.T, driver, dsn string, guards map[string]map[string]any) (*caddyhttp.Server, *app.App) {
	t.Helper()
	var routes []map[string]any
	for path, g := range guards {
		g["handler"] = "scopegate_guard"
		if g["scopes"] == nil && g["any_scopes"] == nil && g["any_token"] == nil {
			g["any_token"] = true // a guard given no read scope says so
		}
		routes = append(routes, map[string]any{
			"match":  []map[string]any{{"path": []string{path + "*"}}},
			"handle": []map[string]any{g, echoUpstream},
		})
	}
	apps := map[string]any{
		"scopegate": map[string]any{
			"database": map[string]any{"driver": driver, "dsn": dsn},
			"issuer":   apptest.Issuer, "master_key": apptest.MasterKey, "scopes": apptest.DemoScopes,
			"poll_interval": "1h",
		},
		"http": map[string]any{"servers": map[string]any{"api": map[string]any{
			"listen": []string{"127.0.0.1:0"}, "automatic_https": map[string]any{"disable": true}, "routes": routes,
		}}},
	}
	cfg := &caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}, AppsRaw: caddy.ModuleMap{}}
	for name, v := range apps {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		cfg.AppsRaw[name] = raw
	}
	ctx, err := caddy.ProvisionContext(cfg)
	if err != nil {
		t.Fatalf("provisioning the config: %v", err)
	}
	sgApp, err := ctx.App("scopegate")
	if err != nil {
		t.Fatal(err)
	}
	a := sgApp.(*app.App)
	t.Cleanup(func() { a.Cleanup() }) // the server never started; the app holds the database
	httpApp, err := ctx.App("http")
	if err != nil {
		t.Fatal(err)
	}
	return httpApp.(*caddyhttp.App).Servers["api"], a
}

// Two guards in one Caddy config: /on/ accepts impersonation through a
// custom header (X-On-Behalf), /off/ has no impersonation. Each refuses the
// header the other one knows: X-On-Behalf on /off/ (it used to reach the
// upstream, since a guard only knew its own header name) and X-Act-As-User
// on /on/ (likewise). /on/ honours its own header and the upstream never
// sees either header; requests without them pass on both routes.
func TestImpersonationHeadersAcrossGuards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		srv, a := provisionConfig(t, driver, storetest.DSN(t, driver), map[string]map[string]any{
			"/on/":  {"impersonation": map[string]any{"header": "X-On-Behalf"}},
			"/off/": {},
		})
		e := seedEnv(t, a)
		raw := e.token(svc, "", "demo.read")
		serve := func(path string, header ...string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Authorization", "Bearer "+raw)
			for i := 0; i+1 < len(header); i += 2 {
				r.Header.Set(header[i], header[i+1])
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			return w
		}
		refused := func(t *testing.T, w *httptest.ResponseRecorder, name string) {
			t.Helper()
			want := challenge("scopegate", oauth.InsufficientScope, "impersonation ("+name+") is not enabled on this route", "")
			if w.Code != http.StatusForbidden || w.Header().Get("WWW-Authenticate") != want || strings.Contains(w.Body.String(), "on-behalf=") || strings.Contains(w.Body.String(), leakedBody) {
				t.Fatalf("status %d, WWW-Authenticate %q, body %q; want 403 %q and no upstream", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String(), want)
			}
		}
		passed := func(t *testing.T, w *httptest.ResponseRecorder, user string) {
			t.Helper()
			if want := "on-behalf= act-as= user=" + user; w.Code != http.StatusOK || w.Body.String() != want {
				t.Fatalf("status %d, upstream saw %q; want 200 and %q", w.Code, w.Body.String(), want)
			}
		}

		t.Run("custom header on the route without impersonation", func(t *testing.T) {
			refused(t, serve("/off/x", "X-On-Behalf", alice), "X-On-Behalf")
		})
		t.Run("default header on the route without impersonation", func(t *testing.T) {
			refused(t, serve("/off/x", "X-Act-As-User", alice), "X-Act-As-User")
		})
		t.Run("default header on the route with a custom one", func(t *testing.T) {
			refused(t, serve("/on/x", "X-Act-As-User", alice), "X-Act-As-User")
		})
		t.Run("custom header on its route", func(t *testing.T) {
			passed(t, serve("/on/x", "x-on-behalf", alice), alice)
		})
		t.Run("empty headers are removed", func(t *testing.T) {
			passed(t, serve("/off/x", "X-On-Behalf", "", "X-Act-As-User", ""), "")
		})
		t.Run("no impersonation header", func(t *testing.T) {
			passed(t, serve("/off/x"), "")
			passed(t, serve("/on/x"), "")
		})
	})
}

// A reload provisions the new config while the old one still serves, on the
// same database and so on one shared runtime, yet the header names are each
// config's own: after the new config (X-Act-For on /on/) is provisioned, the
// old one (X-On-Behalf on /on/) still refuses X-On-Behalf on /off/ and has
// not learnt X-Act-For, and the new one refuses X-Act-For on /off/ and knows
// nothing of X-On-Behalf.
func TestImpersonationHeadersPerConfigAcrossReload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.DSN(t, driver)
		oldSrv, oldApp := provisionConfig(t, driver, dsn, map[string]map[string]any{
			"/on/": {"impersonation": map[string]any{"header": "X-On-Behalf"}}, "/off/": {},
		})
		e := seedEnv(t, oldApp)
		newSrv, newApp := provisionConfig(t, driver, dsn, map[string]map[string]any{
			"/on/": {"impersonation": map[string]any{"header": "X-Act-For"}}, "/off/": {},
		})
		if oldApp.Runtime() != newApp.Runtime() {
			t.Fatal("control: the two configs do not share the runtime")
		}
		for name, tc := range map[string]struct {
			a    *app.App
			want []string
		}{"old": {oldApp, []string{"X-Act-As-User", "X-On-Behalf"}}, "new": {newApp, []string{"X-Act-As-User", "X-Act-For"}}} {
			if got := slices.Sorted(slices.Values(tc.a.ImpersonationHeaders())); !slices.Equal(got, tc.want) {
				t.Errorf("%s config's impersonation headers = %q, want %q", name, got, tc.want)
			}
		}
		raw := e.token(svc, "", "demo.read")
		for name, tc := range map[string]struct {
			srv    *caddyhttp.Server
			header string
		}{"old": {oldSrv, "X-On-Behalf"}, "new": {newSrv, "X-Act-For"}} {
			r := httptest.NewRequest(http.MethodGet, "/off/x", nil)
			r.Header.Set("Authorization", "Bearer "+raw)
			r.Header.Set(tc.header, alice)
			w := httptest.NewRecorder()
			tc.srv.ServeHTTP(w, r)
			want := challenge("scopegate", oauth.InsufficientScope, "impersonation ("+tc.header+") is not enabled on this route", "")
			if w.Code != http.StatusForbidden || w.Header().Get("WWW-Authenticate") != want {
				t.Errorf("%s config, /off/ with %s: status %d, WWW-Authenticate %q; want 403 %q", name, tc.header, w.Code, w.Header().Get("WWW-Authenticate"), want)
			}
		}
	})
}
