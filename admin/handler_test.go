package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage" // the storage TestProvision confines to a temp dir
	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// Requests without a usable token get 401 with an RFC 6750 challenge
// (missing header, other scheme, garbage, expired, disabled client), and a
// valid token without an admin scope gets 403 insufficient_scope naming both
// admin scopes; a tenant admin token naming no tenant is not its client's
// tenant's and is refused as invalid (401) before any scope is looked at.
func TestAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)

		unauthorized := func(name string, w *httptest.ResponseRecorder) {
			t.Helper()
			res := w.Result()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: status = %d, want 401", name, res.StatusCode)
			}
			ch := res.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="scopegate-admin"`) || !strings.Contains(ch, `error="invalid_token"`) {
				t.Fatalf("%s: WWW-Authenticate = %q", name, ch)
			}
		}
		unauthorized("no header", e.do("GET", "/clients", "", nil))
		unauthorized("basic", e.do("GET", "/clients", "", nil, "Authorization", "Basic YTpi"))
		unauthorized("garbage", e.do("GET", "/clients", "not-a-jwt", nil))

		now := time.Now()
		expired, err := e.app.Sign(&token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: apptest.Issuer, Subject: e.superID, ID: secret.NewToken(12),
				IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(-time.Hour)),
			},
			ClientID: e.superID, Scope: scope.Admin, Tenant: store.DefaultTenantID, Legs: 2,
		})
		if err != nil {
			t.Fatal(err)
		}
		unauthorized("expired", e.do("GET", "/clients", expired, nil))

		other, otherID := e.adminToken(store.DefaultTenantID, scope.Admin)
		e.want(e.do("GET", "/clients", other, nil), http.StatusOK)
		e.want(e.do("POST", "/clients/"+otherID+"/disable", e.super, nil), http.StatusOK)
		unauthorized("disabled client", e.do("GET", "/clients", other, nil))

		check403 := func(name, tok string) {
			t.Helper()
			w := e.do("GET", "/clients", tok, nil)
			if w.Code != http.StatusForbidden {
				t.Fatalf("%s: status = %d, want 403", name, w.Code)
			}
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="scopegate.admin scopegate.tenant_admin"`) {
				t.Fatalf("%s: WWW-Authenticate = %q", name, ch)
			}
		}
		reader, _ := e.adminToken(store.DefaultTenantID, "demo.read")
		check403("no admin scope", reader)
		_, taID := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		unauthorized("tenant admin without tenant", e.do("GET", "/clients", e.sign(taID, "", "", scope.TenantAdmin), nil))
	})
}

// Unknown routes are 404 and known routes with the wrong method are 405
// with an Allow header, both as problems (never ServeMux's plain text); paths
// that are not canonical are 404 rather than a redirect that would lose the
// prefix handle_path stripped; and routing happens only after
// authentication, so an anonymous caller learns nothing about routes.
func TestRouting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		problemOf(t, e.do("GET", "/nope", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("GET", "/", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("GET", "/clients/", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("GET", "/tenants/../clients", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("GET", "/clients/%00", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("GET", "/clients/%ff%fe", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("GET", "/clients/"+strings.Repeat("x", 300), e.super, nil), http.StatusNotFound)

		w := e.do("PUT", "/clients", e.super, nil)
		problemOf(t, w, http.StatusMethodNotAllowed)
		if allow := w.Header().Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Fatalf("Allow = %q, want GET and POST", allow)
		}
		w = e.do("DELETE", "/keys/rotate", e.super, nil)
		problemOf(t, w, http.StatusMethodNotAllowed)
		if allow := w.Header().Get("Allow"); allow != "POST" {
			t.Fatalf("Allow = %q, want POST", allow)
		}

		if w := e.do("GET", "/nope", "", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("anonymous unknown route: status = %d, want 401", w.Code)
		}
	})
}

// When verification fails for a reason other than the token (here the
// database is gone), the caller gets a problem (503: the database is
// unavailable) that reveals nothing of the cause.
func TestInternalErrorHidesDetails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		if err := e.app.Store().Close(); err != nil {
			t.Fatal(err)
		}
		w := e.do("GET", "/clients", e.super, nil)
		p := problemOf(t, w, http.StatusServiceUnavailable)
		if strings.Contains(strings.ToLower(w.Body.String()), "closed") || strings.Contains(w.Body.String(), "sql") {
			t.Fatalf("503 reveals its cause: %+v", p)
		}
	})
}

// Provision finds the scopegate app through the Caddy context, as a real
// config does: caddy.Validate provisions a whole config (the app on a real
// database, the HTTP server and this handler in a route) without serving.
func TestProvision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		raw, err := json.Marshal(map[string]any{
			"admin":   map[string]any{"disabled": true},
			"storage": map[string]any{"module": "file_system", "root": t.TempDir()},
			"apps": map[string]any{
				"scopegate": map[string]any{
					"database":   map[string]any{"driver": driver, "dsn": storetest.DSN(t, driver)},
					"issuer":     apptest.Issuer,
					"master_key": apptest.MasterKey,
				},
				"http": map[string]any{"servers": map[string]any{"srv": map[string]any{
					"listen": []string{"127.0.0.1:0"},
					"routes": []any{map[string]any{"handle": []any{map[string]any{"handler": "scopegate_admin"}}}},
				}}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		var cfg caddy.Config
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		if err := caddy.Validate(&cfg); err != nil {
			t.Fatalf("provisioning a config with scopegate_admin: %v", err)
		}
	})
}
