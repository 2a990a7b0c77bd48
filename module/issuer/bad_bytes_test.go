package issuer

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// badIDs are client and user ids no row can hold, as a client sends them:
// the NUL byte and invalid UTF-8 (%00, %ff once decoded), alone and inside
// an otherwise plausible id. PostgreSQL refuses them in a query.
var badIDs = map[string]string{
	"%00":        "\x00",
	"%ff":        "\xff",
	"sg_…%00":    "sg_abc\x00def",
	"sg_…%ff%fe": "sg_abc\xff\xfe",
}

// A client_id holding a NUL byte or invalid UTF-8 is an unknown client on
// both databases, whichever way it arrives (HTTP Basic, urlencoded or raw;
// a form body; a JSON body with \u0000; client_id alone, as a public client
// of the code and refresh grants would send it): 401 invalid_client with
// the Basic challenge, never a 5xx, and nothing is logged as an error.
func TestBadBytesInClientID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.app.RegisterEndpoint(EndpointAuthorize) // the code and refresh grants are served
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		for name, id := range badIDs {
			rawBasic := formRequest(ccForm())
			rawBasic.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
			for how, req := range map[string]*http.Request{
				"basic":     withBasic(formRequest(ccForm()), id, secret),
				"raw basic": rawBasic,
				"form body": formRequest(ccForm("client_id", id, "client_secret", secret)),
				"json body": jsonRequest(map[string]any{"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
				"public client, code grant": formRequest(url.Values{"grant_type": {"authorization_code"}, "client_id": {id},
					"code": {"x"}, "code_verifier": {strings.Repeat("v", 43)}}),
				"public client, refresh grant": formRequest(url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {"x"}}),
			} {
				t.Run(name+" by "+how, func(t *testing.T) {
					res := f.refuse(t, f.ep, req, http.StatusUnauthorized, oauth.InvalidClient)
					if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
						t.Errorf("WWW-Authenticate = %q, want a Basic challenge", res.Header.Get("WWW-Authenticate"))
					}
				})
			}
		}
		// Control: the client itself still gets its token, so the refusals
		// above are the ids' doing.
		f.issue(t, f.ep, c.ID, secret)
		wantNoErrorLogged(t, f)
	})
}

// A user_id (or userId) holding a NUL byte or invalid UTF-8, from a client
// allowed to ask for user tokens, names no user: 400 invalid_grant on both
// databases, never a 5xx, nothing logged as an error.
func TestBadBytesInUserID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, AllowUserTokens: true})
		alice := f.user(store.DefaultTenantID, "alice", false)
		for name, id := range badIDs {
			for _, param := range []string{"user_id", "userId"} {
				t.Run(param+" "+name, func(t *testing.T) {
					f.refuse(t, f.ep, withBasic(formRequest(ccForm(param, id)), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)
					f.refuse(t, f.ep, jsonRequest(map[string]any{
						"grant_type": "client_credentials", "client_id": c.ID, "client_secret": secret, param: id,
					}), http.StatusBadRequest, oauth.InvalidGrant)
				})
			}
		}
		// Control: a real user id and username still work.
		if _, claims := f.issue(t, f.ep, c.ID, secret, "user_id", alice.ID); claims.UserID() != alice.ID {
			t.Fatalf("user_id: token for %q", claims.UserID())
		}
		if _, claims := f.issue(t, f.ep, c.ID, secret, "userId", "alice"); claims.UserID() != alice.ID {
			t.Fatalf("userId by username: token for %q", claims.UserID())
		}
		wantNoErrorLogged(t, f)
	})
}

// wantNoErrorLogged fails the test if the endpoint logged a warning or an
// error: a bad id is the caller's mistake, not a server failure.
func wantNoErrorLogged(t *testing.T, f *fixture) {
	t.Helper()
	for _, e := range f.logs.Filter(func(e observer.LoggedEntry) bool { return e.Level >= zapcore.WarnLevel }).All() {
		t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
	}
}
