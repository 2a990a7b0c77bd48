package guard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// Fixture names. Users and clients get these ids; users get the same
// username with a "-name" suffix so lookups by id and by name differ.
const (
	otherTenant = "other"

	alice = "u-alice" // active, default tenant
	bob   = "u-bob"   // active, default tenant (disabled by some tests)
	carol = "u-carol" // active, other tenant
	dave  = "u-dave"  // disabled, default tenant

	svc      = "c-svc"      // api_key, may impersonate
	plain    = "c-plain"    // api_key, may not impersonate
	userApp  = "c-userapp"  // user auth, impersonation flag set (must not count)
	otherSvc = "c-othersvc" // api_key in the other tenant, may impersonate
)

var tester = store.Actor{Principal: "guard-test", TenantID: store.DefaultTenantID, RemoteAddr: "127.0.0.1"}

// env is a real app on a fresh database with a few tenants, users and clients.
type env struct {
	tb      testing.TB
	a       *app.App
	tenants map[string]string // client id -> tenant
}

// newEnv opens an app on driver and seeds the fixtures above.
func newEnv(tb testing.TB, driver string, configure ...func(*app.App)) *env {
	tb.Helper()
	return seedEnv(tb, apptest.Open(tb, driver, configure...))
}

// seedEnv seeds the fixtures above into the database of a.
func seedEnv(tb testing.TB, a *app.App) *env {
	tb.Helper()
	e := &env{tb: tb, a: a, tenants: map[string]string{}}
	ctx := context.Background()
	st := e.a.Store()
	if err := st.CreateTenant(ctx, &store.Tenant{ID: otherTenant, Name: "Other"}, tester); err != nil {
		tb.Fatal(err)
	}
	for _, u := range []struct {
		id, tenant string
		disabled   bool
	}{{alice, store.DefaultTenantID, false}, {bob, store.DefaultTenantID, false}, {carol, otherTenant, false}, {dave, store.DefaultTenantID, true}} {
		user := &store.User{ID: u.id, TenantID: u.tenant, Username: u.id + "-name", Disabled: u.disabled}
		if err := st.CreateUser(ctx, user, tester); err != nil {
			tb.Fatal(err)
		}
	}
	for _, c := range []struct {
		id, tenant, method string
		impersonate        bool
	}{
		{svc, store.DefaultTenantID, store.AuthAPIKey, true},
		{plain, store.DefaultTenantID, store.AuthAPIKey, false},
		{userApp, store.DefaultTenantID, store.AuthUser, true},
		{otherSvc, otherTenant, store.AuthAPIKey, true},
	} {
		client := &store.Client{
			ID: c.id, TenantID: c.tenant, Name: c.id, AuthMethod: c.method,
			AllowedScopes:   store.Strings{"demo.read", "demo.write", "user.only", "global"},
			AllowUserTokens: true, AllowImpersonation: c.impersonate,
			OwnerID: tester.Principal, SecretDigest: "digest-" + c.id,
		}
		if err := st.CreateClient(ctx, client, tester); err != nil {
			tb.Fatal(err)
		}
		e.tenants[c.id] = c.tenant
	}
	return e
}

// claims returns valid claims for client: 3-legged for user when set,
// 2-legged otherwise, living one hour.
func (e *env) claims(client, user, scopes string) *token.Claims {
	now := time.Now()
	c := &token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: apptest.Issuer, Subject: client, Audience: jwt.ClaimStrings{apptest.Issuer},
			ID: store.NewID(), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		ClientID: client, Scope: scopes, Tenant: e.tenants[client], Legs: 2,
	}
	if user != "" {
		c.Subject, c.Legs = user, 3
	}
	return c
}

// sign mints c with the app's signing key.
func (e *env) sign(c *token.Claims) string {
	e.tb.Helper()
	raw, err := e.a.Sign(c)
	if err != nil {
		e.tb.Fatal(err)
	}
	return raw
}

// token mints a valid token (see claims).
func (e *env) token(client, user, scopes string) string {
	e.tb.Helper()
	return e.sign(e.claims(client, user, scopes))
}

// guard provisions g against the app the way Provision does, and validates
// it. A guard built with no read scope stands for one saying any_token.
func (e *env) guard(g *Guard) *Guard {
	e.tb.Helper()
	if len(g.Scopes)+len(g.AnyScopes) == 0 {
		g.AnyToken = true
	}
	if err := g.setup(e.a, zap.NewNop()); err != nil {
		e.tb.Fatalf("setup: %v", err)
	}
	if err := g.Validate(); err != nil {
		e.tb.Fatalf("Validate: %v", err)
	}
	return g
}

// exchange is one request as Caddy's server prepares it (replacer and vars
// in the context) and the recorder its response goes to.
type exchange struct {
	r    *http.Request
	w    *httptest.ResponseRecorder
	repl *caddy.Replacer
}

// newExchange builds a GET of target with the given header lines
// ("Name: value"; repeat a name to repeat the header).
func newExchange(target string, lines ...string) *exchange {
	x := &exchange{w: httptest.NewRecorder(), repl: caddy.NewReplacer()}
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		r.Header.Add(name, strings.TrimLeft(value, " ")) // trailing spaces kept on purpose
	}
	x.r = caddyhttp.PrepareRequest(r, x.repl, x.w, nil)
	return x
}

// bearerLine is the Authorization header line for raw.
func bearerLine(raw string) string { return "Authorization: Bearer " + raw }

// upstream is the handler behind the guard: it records what it received.
type upstream struct {
	calls  atomic.Int32
	header http.Header
	req    *http.Request
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	u.calls.Add(1)
	u.header = r.Header.Clone()
	u.req = r
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte("upstream"))
	return err
}

// serve runs the exchange through g in front of a fresh upstream.
func (x *exchange) serve(t testing.TB, g *Guard) *upstream {
	t.Helper()
	up := new(upstream)
	if err := g.ServeHTTP(x.w, x.r, up); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	return up
}

// placeholder returns a replacer value as a string ("<unset>" if missing).
func (x *exchange) placeholder(name string) string {
	v, ok := x.repl.GetString(name)
	if !ok {
		return "<unset>"
	}
	return v
}

// wantPassed asserts the upstream was called once and answered 200.
func wantPassed(t testing.TB, x *exchange, up *upstream) {
	t.Helper()
	if n := up.calls.Load(); n != 1 || x.w.Code != http.StatusOK {
		t.Fatalf("upstream calls = %d, status = %d, WWW-Authenticate = %q, body = %s; want the request passed",
			n, x.w.Code, x.w.Header().Get("WWW-Authenticate"), x.w.Body.String())
	}
}

// challenge is the WWW-Authenticate value RFC 6750 §3 prescribes.
func challenge(realm, code, desc, scope string) string {
	s := `Bearer realm="` + realm + `", error="` + code + `", error_description="` + desc + `"`
	if scope != "" {
		s += `, scope="` + scope + `"`
	}
	return s
}

// wantRefused asserts the upstream was not called and the response is the
// RFC 6750 error: status, exact challenge in realm "scopegate", and the
// same fields in a no-store JSON body.
func wantRefused(t testing.TB, x *exchange, up *upstream, status int, code, desc, scope string) {
	t.Helper()
	wantRefusedIn(t, "scopegate", x, up, status, code, desc, scope)
}

func wantRefusedIn(t testing.TB, realm string, x *exchange, up *upstream, status int, code, desc, scope string) {
	t.Helper()
	if n := up.calls.Load(); n != 0 {
		t.Fatalf("upstream called %d times on a refused request", n)
	}
	if x.w.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", x.w.Code, status, x.w.Body.String())
	}
	if got, want := x.w.Header().Get("WWW-Authenticate"), challenge(realm, code, desc, scope); got != want {
		t.Fatalf("WWW-Authenticate =\n  %s\nwant\n  %s", got, want)
	}
	if ct := x.w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cc := x.w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	var body oauth.Error
	if err := json.Unmarshal(x.w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", x.w.Body.String(), err)
	}
	if body.Code != code || body.Description != desc || body.Scope != scope {
		t.Fatalf("body = %+v, want error %q, description %q, scope %q", body, code, desc, scope)
	}
}
