package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Introspection is least privilege: a client introspects its own tokens;
// another client of the tenant sees {"active": false} (RFC 7662 §2.2),
// unless its allowed scopes give scopegate.introspect (directly or through
// an implication), which reads every token of its own tenant and no other:
// neither scopegate.admin without it, nor scopegate.introspect of another
// tenant, nor an app's tenant pair holding it (allowed before apps were
// refused it, or through a scope a later catalogue makes imply it) reads the
// token.
func TestIntrospectionLeastPrivilege(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, func(a *app.App) {
			a.Scopes = append(a.Scopes, scope.Scope{Name: "resource_server", Implies: []string{scope.Introspect}})
		})
		f.tenant("acme")
		owner, ownerSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		peer, peerSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		rs, rsSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", scope.Introspect}})
		implied, impliedSecret := f.client(store.Client{AllowedScopes: store.Strings{"resource_server"}})
		super, superSecret := f.client(store.Client{AllowedScopes: store.Strings{scope.Admin}})
		acme, acmeSecret := f.client(store.Client{TenantID: "acme", AllowedScopes: store.Strings{scope.Introspect}})
		appID := "app-1"
		pair, pairSecret := f.client(store.Client{AppID: &appID, AllowedScopes: store.Strings{"demo.read", scope.Introspect}})
		impliedPair, impliedPairSecret := f.client(store.Client{AppID: &appID, AllowedScopes: store.Strings{"resource_server"}})
		res, claims := f.issue(t, f.ep, owner.ID, ownerSecret, "scope", "demo.read")
		tok := res.str("access_token")

		in := &Introspection{app: f.app, logger: f.log}
		ask := func(id, secret string) map[string]any {
			t.Helper()
			rec := httptest.NewRecorder()
			if err := in.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {tok}}), id, secret), nil); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("introspection by %s: %d %v %s", id, rec.Code, err, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			return body
		}
		for who, c := range map[string]struct{ id, secret string }{
			"its own client": {owner.ID, ownerSecret}, "a client with scopegate.introspect": {rs.ID, rsSecret},
			"a client whose scope implies it": {implied.ID, impliedSecret},
		} {
			body := ask(c.id, c.secret)
			if body["active"] != true || body["client_id"] != owner.ID || body["jti"] != claims.ID || body["scope"] != "demo.read" {
				t.Errorf("%s: %v, want the active token's claims", who, body)
			}
		}
		for who, c := range map[string]struct{ id, secret string }{
			"another client of the tenant":                      {peer.ID, peerSecret},
			"a scopegate.admin client without the scope":        {super.ID, superSecret},
			"another tenant's client with scopegate.introspect": {acme.ID, acmeSecret},
			"an app's pair holding scopegate.introspect":        {pair.ID, pairSecret},
			"an app's pair holding a scope implying it":         {impliedPair.ID, impliedPairSecret},
		} {
			if body := ask(c.id, c.secret); len(body) != 1 || body["active"] != false {
				t.Errorf("%s: %v, want exactly {\"active\": false}", who, body)
			}
		}
		if _, ok := f.app.Catalogue().Get(scope.Introspect); !ok {
			t.Fatal("scopegate.introspect is not in the built-in catalogue")
		}
	})
}

// A GET at the introspection endpoint is 405 with Allow: POST and an RFC
// 6749 §5.2 body whose description does not name another endpoint (it said
// "the token endpoint" here).
func TestIntrospectionRefusesGet(t *testing.T) {
	f := newFixture(t, store.SQLite)
	in := &Introspection{app: f.app, logger: f.log}
	rec := httptest.NewRecorder()
	_ = in.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth2/introspect?token=x", nil), nil)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	desc, _ := body["error_description"].(string)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost || body["error"] != "invalid_request" ||
		!strings.Contains(desc, "POST") || strings.Contains(desc, "token endpoint") {
		t.Fatalf("GET: %d Allow %q %v", rec.Code, rec.Header().Get("Allow"), body)
	}
}

// A claim a scope required never replaces a standard member of the answer,
// nor poses as one the answer leaves out (act, username, cnf, any spelling):
// a token minted under an older catalogue (one that let a scope require
// "tenant" or "sub", which NewCatalogue refuses now) carries values its
// client chose, and a resource server must read the token's own tenant,
// subject, client and state. The other claims are still listed.
func TestIntrospectionKeepsStandardMembersOverRequiredClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		owner, ownerSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		_, claims := f.issue(t, f.ep, owner.ID, ownerSecret, "scope", "demo.read")
		forged := *claims
		forged.Ext = map[string]string{"tenant": "acme", "sub": "someone-else", "client_id": "other", "active": "false",
			"scope": "scopegate.admin", "application_id": "app-7", "act": "x", "username": "root", "cnf": "x", "Token_Type": "x"}
		tok, err := f.app.Sign(&forged)
		if err != nil {
			t.Fatal(err)
		}
		in := &Introspection{app: f.app, logger: f.log}
		rec := httptest.NewRecorder()
		if err := in.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {tok}}), owner.ID, ownerSecret), nil); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("introspection: %d %v %s", rec.Code, err, rec.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"active": true, "tenant": owner.TenantID, "sub": owner.ID, "client_id": owner.ID,
			"scope": "demo.read", "application_id": "app-7"}
		for k, v := range want {
			if body[k] != v {
				t.Errorf("%s = %v, want %v (whole answer %v)", k, body[k], v, body)
			}
		}
		for _, k := range []string{"act", "username", "cnf", "Token_Type"} {
			if v, ok := body[k]; ok {
				t.Errorf("the claim %s posing as a standard member is in the answer: %v", k, v)
			}
		}
	})
}

// Revocation and introspection challenge a failed client authentication
// with the realm their config names (the one an operator gave the token
// endpoint, say), and with "scopegate" when it names none; a quote in the
// realm cannot end the header's quoted string.
func TestRevokeAndIntrospectChallengeWithTheirRealm(t *testing.T) {
	f := newFixture(t, store.SQLite)
	owner, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
	for _, tc := range []struct {
		name    string
		handler interface {
			ServeHTTP(http.ResponseWriter, *http.Request, caddyhttp.Handler) error
		}
		want string
	}{
		{"revoke named", &Revocation{Realm: `Bits "API"`, app: f.app, logger: f.log, failed: f.log}, `Basic realm="Bits 'API'"`},
		{"revoke default", &Revocation{app: f.app, logger: f.log, failed: f.log}, `Basic realm="scopegate"`},
		{"introspect named", &Introspection{Realm: "bits", app: f.app, logger: f.log, failed: f.log}, `Basic realm="bits"`},
		{"introspect default", &Introspection{app: f.app, logger: f.log, failed: f.log}, `Basic realm="scopegate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := withBasic(formRequest(url.Values{"token": {"x"}}), owner.ID, "not-the-secret")
			if err := tc.handler.ServeHTTP(rec, req, nil); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != tc.want ||
				!strings.Contains(rec.Body.String(), `"invalid_client"`) {
				t.Fatalf("%d %q %s, want 401 invalid_client with %q", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body, tc.want)
			}
		})
	}
}
