package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// remoteIP is where httptest.NewRequest says requests come from.
const remoteIP = "192.0.2.1"

// env is one admin API over a fresh app on a real database.
type env struct {
	t   *testing.T
	app *app.App
	h   *Handler
	// super is a scopegate.admin token of superID, in the default tenant.
	super, superID string
}

func newEnv(t *testing.T, driver string, configure ...func(*app.App)) *env {
	t.Helper()
	a := apptest.Open(t, driver, configure...)
	h := new(Handler)
	h.setup(a, zaptest.NewLogger(t))
	e := &env{t: t, app: a, h: h}
	e.super, e.superID = e.adminToken(store.DefaultTenantID, scope.Admin)
	return e
}

// tenant creates a tenant with id and name id.
func (e *env) tenant(id string) {
	e.t.Helper()
	if err := e.app.Store().CreateTenant(context.Background(), &store.Tenant{ID: id, Name: id}, store.Actor{Principal: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

// user creates an enabled user in tenant.
func (e *env) user(tenant, username string) *store.User {
	e.t.Helper()
	u := &store.User{ID: store.NewID(), TenantID: tenant, Username: username}
	if err := e.app.Store().CreateUser(context.Background(), u, store.Actor{Principal: "test"}); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// storeClient gives c a new id (when it has none) and secret and creates
// it straight in the store, as the API would have stored it.
func (e *env) storeClient(c *store.Client) *store.Client {
	e.t.Helper()
	if c.ID == "" {
		c.ID = app.NewClientID()
	}
	_, digest, ct, err := e.app.NewSecret(c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SecretDigest, c.SecretCiphertext = digest, ct
	if err := e.app.Store().CreateClient(context.Background(), c, store.Actor{Principal: "test"}); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// adminToken creates a client in tenant holding scopes, straight in the
// store, and returns a 2-legged token of it and its id.
func (e *env) adminToken(tenant string, scopes ...string) (string, string) {
	e.t.Helper()
	id := app.NewClientID()
	e.storeClient(&store.Client{
		ID: id, TenantID: tenant, Name: "admin-" + id, AuthMethod: store.AuthAPIKey,
		AllowedScopes: scopes, DefaultScopes: scopes, OwnerID: id,
	})
	return e.sign(id, tenant, "", scopes...), id
}

// userToken creates an api_key client of u's tenant that u owns and
// connects as, holding scopes, straight in the store (as u would make it for
// itself), and returns a 3-legged token of it bound to u and its id.
func (e *env) userToken(u *store.User, scopes ...string) (string, string) {
	e.t.Helper()
	id := app.NewClientID()
	e.storeClient(&store.Client{
		ID: id, TenantID: u.TenantID, Name: "own-" + id, AuthMethod: store.AuthAPIKey, ConnectAsUserID: &u.ID,
		AllowedScopes: scopes, DefaultScopes: scopes, OwnerID: u.ID,
	})
	return e.sign(id, u.TenantID, u.ID, scopes...), id
}

// sign mints a token of clientID; with a user it is 3-legged.
func (e *env) sign(clientID, tenant, user string, scopes ...string) string {
	e.t.Helper()
	return e.signWith(clientID, tenant, user, nil, scopes...)
}

// signWith is sign with an RFC 8693 actor (nil: none).
func (e *env) signWith(clientID, tenant, user string, act *token.Actor, scopes ...string) string {
	e.t.Helper()
	return e.signClaims(e.claimsFor(clientID, tenant, user, act, scopes...))
}

// claimsFor is what sign signs, issued now for an hour.
func (e *env) claimsFor(clientID, tenant, user string, act *token.Actor, scopes ...string) *token.Claims {
	now := time.Now()
	c := &token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: apptest.Issuer, Audience: jwt.ClaimStrings{e.app.Audience}, Subject: clientID,
			ID: secret.NewToken(12), IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		ClientID: clientID, Scope: scope.Join(scopes), Tenant: tenant, Legs: 2, Act: act,
	}
	if user != "" {
		c.Subject, c.Legs = user, 3
	}
	return c
}

// signClaims signs c with the app's key.
func (e *env) signClaims(c *token.Claims) string {
	e.t.Helper()
	raw, err := e.app.Sign(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// do sends one request through ServeHTTP. body is nil (none), a string
// (sent as is) or a value sent as JSON; strings and values go as
// application/json unless a Content-Type header is given in hdr.
func (e *env) do(method, path, tok string, body any, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return e.serve(r)
}

// doChunked sends body as the super admin without a Content-Length, as a
// chunked upload would arrive.
func (e *env) doChunked(method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+e.super)
	return e.serve(r)
}

// serve runs r through ServeHTTP with a next handler that fails the test:
// the admin API answers everything itself.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	w := httptest.NewRecorder()
	next := func(http.ResponseWriter, *http.Request) error {
		e.t.Errorf("%s %s: the admin API called the next handler", r.Method, r.URL)
		return nil
	}
	if err := e.h.ServeHTTP(w, r, caddyhttp.HandlerFunc(next)); err != nil {
		e.t.Fatalf("%s %s: ServeHTTP returned %v", r.Method, r.URL, err)
	}
	return w
}

// want fails unless w has status; it returns w for chaining.
func (e *env) want(w *httptest.ResponseRecorder, status int) *httptest.ResponseRecorder {
	e.t.Helper()
	if w.Code != status {
		e.t.Fatalf("status = %d, want %d; body: %s", w.Code, status, w.Body.String())
	}
	return w
}

// decode reads a JSON answer into a T.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decoding %q: %v", w.Body.String(), err)
	}
	return v
}

// problemOf checks that w is an RFC 9457 problem with status and returns it.
func problemOf(t *testing.T, w *httptest.ResponseRecorder, status int) problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", w.Code, status, w.Body.String())
	}
	if mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type")); mt != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", w.Header().Get("Content-Type"))
	}
	p := decode[problem](t, w)
	if p.Status != status || p.Type != "about:blank" || p.Title != http.StatusText(status) || p.Detail == "" {
		t.Fatalf("problem = %+v", p)
	}
	return p
}

// fields returns the names of a problem's invalid fields.
func fields(p problem) []string {
	out := make([]string, 0, len(p.Errors))
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

// create makes a client through the API as tok and returns its view,
// which holds the plaintext secret.
func (e *env) create(tok string, body map[string]any) clientView {
	e.t.Helper()
	return decode[clientView](e.t, e.want(e.do("POST", "/clients", tok, body), http.StatusCreated))
}

// passwordIs reports whether hash, a stored password hash, is password's.
func passwordIs(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
