package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Parameters sent without a value are treated as omitted (RFC 6749 §3.2):
// an empty client_secret or client_id next to HTTP Basic, and an empty
// string in a JSON body, change nothing; a repeated parameter is still
// refused even when one of its values is empty.
func TestEmptyParametersAreOmitted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		for _, extra := range [][]string{{"client_secret", ""}, {"client_id", ""}, {"scope", ""}} {
			f.issue(t, f.ep, c.ID, secret, extra...)
		}
		res := serve(t, f.ep, withBasic(jsonRequest(map[string]any{"grant_type": "client_credentials", "client_secret": "", "scope": ""}), c.ID, secret))
		if res.Status != http.StatusOK || res.str("scope") != "demo.read" {
			t.Errorf("JSON body with empty strings: %d %s, want the token with the default scope", res.Status, res.Raw)
		}
		repeated := withBasic(rawRequest("application/x-www-form-urlencoded", "grant_type=client_credentials&scope=&scope=demo.read"), c.ID, secret)
		f.refuse(t, f.ep, repeated, http.StatusBadRequest, oauth.InvalidRequest)
	})
}

// A JSON scope array holds one scope name per element: an element with a
// space (two names) or an empty one is invalid_request; a scope parameter
// that is only a tab is invalid_scope, not "no scope" (the defaults).
func TestScopeArrayElementsAndBlankScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write"}, DefaultScopes: store.Strings{"demo.read"}})
		for _, arr := range [][]string{{"demo.read demo.write"}, {"demo.read", "", "demo.write"}, {"demo.read\tdemo.write"}} {
			req := withBasic(jsonRequest(map[string]any{"grant_type": "client_credentials", "scope": arr}), c.ID, secret)
			f.refuse(t, f.ep, req, http.StatusBadRequest, oauth.InvalidRequest)
		}
		res := serve(t, f.ep, withBasic(jsonRequest(map[string]any{"grant_type": "client_credentials", "scope": []string{"demo.read", "demo.write"}}), c.ID, secret))
		if res.Status != http.StatusOK || res.str("scope") != "demo.write" && res.str("scope") != "demo.read demo.write" {
			t.Errorf("a well-formed scope array: %d %s", res.Status, res.Raw)
		}
		for _, blank := range []string{"\t", "\n", " \t "} {
			f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", blank)), c.ID, secret), http.StatusBadRequest, oauth.InvalidScope)
		}
	})
}

// A client may ask for a narrower scope that one of its scopes implies
// (demo.write implies demo.read): the token carries demo.read alone. A
// scope neither assigned nor implied is still invalid_scope.
func TestImpliedScopeMayBeAskedFor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.write"}})
		res, claims := f.issue(t, f.ep, c.ID, secret, "scope", "demo.read")
		if res.str("scope") != "demo.read" || claims.Scope != "demo.read" {
			t.Errorf("asking for demo.read with demo.write: scope %q, claims %q, want demo.read", res.str("scope"), claims.Scope)
		}
		reader, readerSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", "demo.write")), reader.ID, readerSecret), http.StatusBadRequest, oauth.InvalidScope)
	})
}

// Introspection answers {"active": false} for a token past its exp even
// while guards still take it for the leeway: the issuer's clock decides,
// and "active" next to an exp in the past would contradict itself. The
// same token an instant before its exp is active.
func TestIntrospectionOfAnExpiredToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		_, claims := f.issue(t, f.ep, c.ID, secret)
		in := &Introspection{app: f.app, logger: f.log}
		ask := func(exp time.Time) map[string]any {
			t.Helper()
			cl := *claims
			cl.ID = cl.ID + "x"
			cl.IssuedAt = jwt.NewNumericDate(exp.Add(-time.Minute))
			cl.ExpiresAt = jwt.NewNumericDate(exp)
			raw, err := f.app.Sign(&cl)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.app.Verify(t.Context(), raw); err != nil {
				t.Fatalf("the token is not within the leeway: %v", err)
			}
			rec := httptest.NewRecorder()
			if err := in.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {raw}}), c.ID, secret), nil); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("introspection: %d %v", rec.Code, err)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			return body
		}
		if body := ask(time.Now().Add(-5 * time.Second)); body["active"] != false || len(body) != 1 {
			t.Errorf("a token 5 s past its exp: %v, want exactly {\"active\": false}", body)
		}
		if body := ask(time.Now().Add(time.Minute)); body["active"] != true {
			t.Errorf("a token a minute before its exp: %v, want active", body)
		}
	})
}

// A scope with a clients option goes only to clients of those names: one
// named otherwise that holds it anyway (given it before the option, say)
// is refused it by name (invalid_scope) and gets its other default scopes
// without it; the named client gets it.
func TestScopeForNamedClientsOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, func(a *app.App) {
			a.Scopes = append(slices.Clone(a.Scopes), scope.Scope{Name: "batch_import", Clients: []string{"batch-import"}})
		})
		other, otherSecret := f.client(store.Client{Name: "not-batch", AllowedScopes: store.Strings{"demo.read", "batch_import"}})
		res := f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", "batch_import")), other.ID, otherSecret), http.StatusBadRequest, oauth.InvalidScope)
		if !strings.Contains(res.str("error_description"), "only for the client named batch-import") {
			t.Errorf("description %q", res.str("error_description"))
		}
		if res, _ := f.issue(t, f.ep, other.ID, otherSecret); res.str("scope") != "demo.read" {
			t.Errorf("default scopes of the misnamed client: %q, want demo.read alone", res.str("scope"))
		}
		named, namedSecret := f.client(store.Client{Name: "batch-import", AllowedScopes: store.Strings{"batch_import"}})
		if res, _ := f.issue(t, f.ep, named.ID, namedSecret, "scope", "batch_import"); res.str("scope") != "batch_import" {
			t.Errorf("the named client: scope %q", res.str("scope"))
		}
	})
}

// A token carries its client's token generation (tgen): after an admin ends
// the client's tokens, a token asked for at once (the same second) is of
// the new generation and verifies, and the one from before does not.
func TestTokensCarryTheClientsGeneration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		before, claims := f.issue(t, f.ep, c.ID, secret)
		if claims.Generation != 0 {
			t.Fatalf("a new client's token: generation %d, want 0", claims.Generation)
		}
		if _, err := f.app.Store().RevokeClientTokens(t.Context(), c.ID, tester); err != nil {
			t.Fatal(err)
		}
		f.app.Runtime().ForgetClient(c.ID) // as the change feed does
		after, claims := f.issue(t, f.ep, c.ID, secret)
		if claims.Generation != 1 {
			t.Errorf("a token after the call: generation %d, want 1", claims.Generation)
		}
		if _, err := f.app.Verify(t.Context(), after.str("access_token")); err != nil {
			t.Errorf("the token asked for at once: %v", err)
		}
		if _, err := f.app.Verify(t.Context(), before.str("access_token")); err == nil {
			t.Error("the token from before the call still verifies")
		}
	})
}

// A scope is assignable through an implying scope only when that scope
// could be in this token itself (a red-team finding): session, 3-legged
// only and requiring application_id, implies data.read, so a
// client_credentials request for data.read alone is invalid_scope, as
// session is; a 3-legged request still needs the claim session requires,
// so data.read through it is refused there too; held directly, data.read
// is fine.
func TestImpliedScopeKeepsTheImplyingScopesRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, func(a *app.App) {
			a.Scopes = append(slices.Clone(a.Scopes),
				scope.Scope{Name: "data.read"},
				scope.Scope{Name: "session", Legs: scope.ThreeLegged, RequiredClaims: []string{"application_id"}, Implies: []string{"data.read"}})
		})
		u := f.user(store.DefaultTenantID, "ada", false)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"session"}, AllowUserTokens: true})
		for _, kv := range [][]string{{"scope", "data.read"}, {"scope", "data.read", "user_id", u.ID}} {
			f.refuse(t, f.ep, withBasic(formRequest(ccForm(kv...)), c.ID, secret), http.StatusBadRequest, oauth.InvalidScope)
		}
		direct, directSecret := f.client(store.Client{AllowedScopes: store.Strings{"data.read", "session"}})
		f.issue(t, f.ep, direct.ID, directSecret, "scope", "data.read")
	})
}
