package issuer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

var tester = store.Actor{Principal: "issuer-test", TenantID: store.DefaultTenantID, RemoteAddr: "127.0.0.1"}

// fixture is a real app on a fresh database plus a token endpoint wired to
// it, with every log line the endpoint writes kept for inspection.
type fixture struct {
	t    testing.TB
	app  *app.App
	ep   *TokenEndpoint
	logs *observer.ObservedLogs
	log  *zap.Logger
}

func newFixture(t testing.TB, driver string, configure ...func(*app.App)) *fixture {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	f := &fixture{t: t, app: apptest.Open(t, driver, configure...), logs: logs, log: zap.New(core)}
	f.ep = f.endpoint(&TokenEndpoint{})
	return f
}

// endpoint provisions e against the fixture's app the way Provision does.
func (f *fixture) endpoint(e *TokenEndpoint) *TokenEndpoint {
	f.t.Helper()
	if err := e.setup(f.app, f.log); err != nil {
		f.t.Fatalf("setup: %v", err)
	}
	if err := e.Validate(); err != nil {
		f.t.Fatalf("validate: %v", err)
	}
	return e
}

// client stores c (id, tenant, name, auth method and owner filled in when
// empty) with a fresh secret and returns it with the plaintext secret.
func (f *fixture) client(c store.Client) (*store.Client, string) {
	f.t.Helper()
	if c.ID == "" {
		c.ID = app.NewClientID()
	}
	plain, digest, sealed, err := f.app.NewSecret(c.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.clientWithSecret(c, plain, digest, sealed), plain
}

// clientWithSecret stores c with a chosen secret.
func (f *fixture) clientWithSecret(c store.Client, plain, digest string, sealed []byte) *store.Client {
	f.t.Helper()
	if c.ID == "" {
		c.ID = app.NewClientID()
	}
	if c.TenantID == "" {
		c.TenantID = store.DefaultTenantID
	}
	if c.Name == "" {
		c.Name = "client " + c.ID
	}
	if c.AuthMethod == "" {
		c.AuthMethod = store.AuthAPIKey
	}
	if c.OwnerID == "" {
		c.OwnerID = tester.Principal
	}
	if digest == "" {
		digest = f.app.Sealer().Digest(plain)
		var err error
		if sealed, err = f.app.Sealer().Seal([]byte(plain), []byte(c.ID)); err != nil {
			f.t.Fatal(err)
		}
	}
	c.SecretDigest, c.SecretCiphertext = digest, sealed
	if err := f.app.Store().CreateClient(context.Background(), &c, tester); err != nil {
		f.t.Fatalf("create client: %v", err)
	}
	return &c
}

// user stores an active (or disabled) user of a tenant.
func (f *fixture) user(tenantID, username string, disabled bool) *store.User {
	f.t.Helper()
	u := &store.User{ID: store.NewID(), TenantID: tenantID, Username: username, Disabled: disabled}
	if err := f.app.Store().CreateUser(context.Background(), u, tester); err != nil {
		f.t.Fatalf("create user: %v", err)
	}
	return u
}

// tenant stores a second tenant.
func (f *fixture) tenant(id string) {
	f.t.Helper()
	if err := f.app.Store().CreateTenant(context.Background(), &store.Tenant{ID: id, Name: "Tenant " + id}, tester); err != nil {
		f.t.Fatalf("create tenant: %v", err)
	}
}

// loggedText returns everything the endpoint logged, fields included.
func (f *fixture) loggedText() string {
	var b strings.Builder
	for _, e := range f.logs.All() {
		b.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			b.WriteString(" " + k + "=")
			b.WriteString(strings.TrimSpace(jsonText(v)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// result is a recorded answer of the token endpoint.
type result struct {
	Status int
	Header http.Header
	Raw    string
	Body   map[string]any
}

func (r result) str(name string) string {
	s, _ := r.Body[name].(string)
	return s
}

// serve runs one request through h and decodes the JSON answer. The handler
// must never return an error: every answer is written as JSON.
func serve(t testing.TB, h *TokenEndpoint, req *http.Request) result {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, nil); err != nil {
		t.Fatalf("ServeHTTP returned %v; the token endpoint answers every request itself", err)
	}
	res := result{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.Body); err != nil {
		t.Fatalf("answer is not a JSON object: %q (%v)", res.Raw, err)
	}
	return res
}

// formRequest builds a form-urlencoded POST.
func formRequest(v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// rawRequest builds a POST with a given body and Content-Type.
func rawRequest(contentType, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// jsonRequest builds an application/json POST.
func jsonRequest(body any) *http.Request {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// basic encodes credentials the RFC 6749 §2.3.1 way: each part
// form-urlencoded, then joined by a colon and base64-encoded.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// withBasic adds an Authorization header with the client's credentials.
func withBasic(r *http.Request, id, secret string) *http.Request {
	r.Header.Set("Authorization", basic(id, secret))
	return r
}

func ccForm(kv ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// issue asks for a client_credentials token with Basic auth and extra
// parameters, and fails the test unless it is issued.
func (f *fixture) issue(t testing.TB, h *TokenEndpoint, id, secret string, kv ...string) (result, *token.Claims) {
	t.Helper()
	res := serve(t, h, withBasic(formRequest(ccForm(kv...)), id, secret))
	if res.Status != http.StatusOK {
		t.Fatalf("token request %v: status %d, body %s", kv, res.Status, res.Raw)
	}
	return res, f.verify(t, res.str("access_token"))
}

// refuse asks for a token and fails the test unless it is refused with
// status and code; it returns the answer.
func (f *fixture) refuse(t testing.TB, h *TokenEndpoint, req *http.Request, status int, code string) result {
	t.Helper()
	res := serve(t, h, req)
	if res.Status != status || res.str("error") != code {
		t.Fatalf("got %d %s (%s), want %d %s", res.Status, res.str("error"), res.Raw, status, code)
	}
	if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("error answer headers %v: want Cache-Control no-store and JSON", res.Header)
	}
	return res
}

// verify checks a token with App.Verify and returns its claims.
func (f *fixture) verify(t testing.TB, raw string) *token.Claims {
	t.Helper()
	if raw == "" {
		t.Fatal("no access_token in the answer")
	}
	c, err := f.app.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("App.Verify: %v", err)
	}
	return c
}

// jwtParts returns the unverified header and payload of a JWT as maps.
func jwtParts(t testing.TB, raw string) (map[string]any, map[string]any) {
	t.Helper()
	payload := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, payload)
	if err != nil {
		t.Fatalf("token does not parse: %v", err)
	}
	return tok.Header, payload
}
