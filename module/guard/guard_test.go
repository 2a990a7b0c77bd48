package guard

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// A valid 3-legged token passes: the upstream gets the trusted identity
// headers (client, tenant, scopes, legs, token id, user, and each extension
// claim as X-Scopegate-Claim-*), never a header the caller forged with the
// identity prefix in any letter case, and the identity placeholders are set.
func TestAllowedRequestCarriesTrustedIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Scopes: []string{"demo.read"}})

		c := e.claims(svc, alice, "demo.read user.only")
		c.Ext = map[string]string{"application_id": "app-42"}
		x := newExchange("/apps/app-42/items", bearerLine(e.sign(c)),
			"X-Scopegate-User-Id: forged-user",
			"X-Scopegate-Anything: forged",
			"X-Scopegate-Claim-Application-Id: forged-app",
			"X-Other: kept")
		x.r.Header["x-scopegate-client-id"] = []string{"forged-client"} // non-canonical, as a raw map entry
		x.r.Header["X-SCOPEGATE-TENANT"] = []string{"forged-tenant"}
		up := x.serve(t, g)
		wantPassed(t, x, up)

		want := map[string]string{
			"X-Scopegate-Client-Id":            svc,
			"X-Scopegate-Tenant":               store.DefaultTenantID,
			"X-Scopegate-Scopes":               "demo.read user.only",
			"X-Scopegate-Legs":                 "3",
			"X-Scopegate-User-Id":              alice,
			"X-Scopegate-Claim-Application-Id": "app-42",
			"X-Other":                          "kept",
		}
		wantUpstreamHeaders(t, up.header, want)

		for name, v := range map[string]string{
			"scopegate.client_id": svc,
			"scopegate.user_id":   alice,
			"scopegate.tenant":    store.DefaultTenantID,
			"scopegate.scopes":    "demo.read user.only",
			"scopegate.legs":      "3",
			"scopegate.jti":       c.ID,
			"scopegate.actor":     "<unset>",
			"http.auth.user.id":   alice,
		} {
			if got := x.placeholder(name); got != v {
				t.Errorf("{%s} = %q, want %q", name, got, v)
			}
		}
		if id, _ := caddyhttp.GetVar(up.req.Context(), varClaims).(*Identity); id == nil || id.UserID != alice || id.Claims.ID != c.ID {
			t.Errorf("identity var = %+v", id)
		}
	})
}

// identity_headers forwards only the headers it names: the upstream gets
// X-Scopegate-Client-Id and X-Scopegate-User-Id alone, every caller-sent
// header with the prefix is still removed (a forged tenant does not pass
// for being left out), and the placeholders still carry the whole identity.
func TestIdentityHeadersChosen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Scopes: []string{"demo.read"}, IdentityHeaders: []string{"client_id", "user_id"}})
		c := e.claims(svc, alice, "demo.read")
		c.Ext = map[string]string{"application_id": "app-42"}
		x := newExchange("/", bearerLine(e.sign(c)), "X-Scopegate-Tenant: forged", "X-Scopegate-Legs: 2")
		up := x.serve(t, g)
		wantPassed(t, x, up)
		want := map[string]string{"X-Scopegate-Client-Id": svc, "X-Scopegate-User-Id": alice}
		wantUpstreamHeaders(t, up.header, want)
		if got := x.placeholder("scopegate.tenant"); got != store.DefaultTenantID {
			t.Errorf("{scopegate.tenant} = %q, want %q", got, store.DefaultTenantID)
		}
	})
}

// The token id is forwarded only when asked for: "default token_id" adds
// it to the default set, "all" forwards every header; a forged one never
// passes.
func TestIdentityHeadersDefaultAndAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		c := e.claims(svc, alice, "demo.read")
		base := map[string]string{"X-Scopegate-Client-Id": svc, "X-Scopegate-User-Id": alice,
			"X-Scopegate-Tenant": store.DefaultTenantID, "X-Scopegate-Scopes": "demo.read", "X-Scopegate-Legs": "3"}
		for _, tc := range []struct {
			names []string
			jti   bool
		}{
			{nil, false},
			{[]string{"default"}, false},
			{[]string{"default", "token_id"}, true},
			{[]string{"token_id", "default"}, true},
			{[]string{"all"}, true},
		} {
			g := e.guard(&Guard{IdentityHeaders: tc.names})
			x := newExchange("/", bearerLine(e.sign(c)), "X-Scopegate-Token-Id: forged")
			up := x.serve(t, g)
			wantPassed(t, x, up)
			want := maps.Clone(base)
			if tc.jti {
				want["X-Scopegate-Token-Id"] = c.ID
			}
			wantUpstreamHeaders(t, up.header, want) // exactly these: no other header
		}
	})
}

// A 2-legged token has no user: a forged X-Scopegate-User-Id is removed, not
// passed on; {scopegate.user_id} is empty and the access log's
// {http.auth.user.id} names the client. A custom header_prefix and realm are
// honoured (headers under the old prefix are then not the guard's concern).
func TestTwoLeggedAndCustomPrefix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		raw := e.token(svc, "", "global")

		g := e.guard(&Guard{})
		x := newExchange("/", bearerLine(raw), "X-Scopegate-User-Id: forged", "x-scopegate-legs: 3")
		up := x.serve(t, g)
		wantPassed(t, x, up)
		if v, ok := up.header["X-Scopegate-User-Id"]; ok {
			t.Errorf("forged user id reached the upstream: %q", v)
		}
		if got := up.header.Values("X-Scopegate-Legs"); len(got) != 1 || got[0] != "2" {
			t.Errorf("legs header = %q, want [2]", got)
		}
		if got := x.placeholder("scopegate.user_id"); got != "" {
			t.Errorf("{scopegate.user_id} = %q, want empty", got)
		}
		if got := x.placeholder("http.auth.user.id"); got != svc {
			t.Errorf("{http.auth.user.id} = %q, want the client %q", got, svc)
		}

		g = e.guard(&Guard{HeaderPrefix: "x-identity-", Realm: "api", Scopes: []string{"global"}})
		x = newExchange("/", bearerLine(raw), "X-Identity-User-Id: forged", "X-Identity-Whatever: forged")
		up = x.serve(t, g)
		wantPassed(t, x, up)
		if got := up.header.Get("X-Identity-Client-Id"); got != svc {
			t.Errorf("X-Identity-Client-Id = %q", got)
		}
		for _, name := range []string{"X-Identity-User-Id", "X-Identity-Whatever", "X-Scopegate-Client-Id"} {
			if v, ok := up.header[name]; ok {
				t.Errorf("upstream got %s = %q", name, v)
			}
		}
		// The realm shows in challenges.
		x = newExchange("/", bearerLine(e.token(svc, "", "demo.read")))
		up = x.serve(t, g)
		wantRefusedIn(t, "api", x, up, http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope global", "global")
	})
}

// Every malformed, forged, expired or no longer valid credential is refused
// with 401 invalid_token, an RFC 6750 challenge naming the reason and the
// same JSON body; a repeated Authorization header is 400 invalid_request.
// The upstream is never called.
func TestInvalidTokensAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{})

		expired := e.claims(svc, "", "demo.read")
		expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
		expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))

		otherIssuer := e.claims(svc, "", "demo.read")
		otherIssuer.Issuer = "https://elsewhere.test"

		otherAudience := e.claims(svc, "", "demo.read")
		otherAudience.Audience = jwt.ClaimStrings{"https://another-api.test"}

		noJTI := e.claims(svc, "", "demo.read")
		noJTI.ID = ""

		// An Ed25519 key that is not in the ring, with a kid of its own.
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		foreign := jwt.NewWithClaims(jwt.SigningMethodEdDSA, e.claims(svc, "", "demo.read"))
		foreign.Header["typ"], foreign.Header["kid"] = token.Type, token.Thumbprint(pub)
		foreignRaw, err := foreign.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		// The ring's own kid, but signed by the foreign key.
		forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, e.claims(svc, "", "demo.read"))
		forged.Header["typ"], forged.Header["kid"] = token.Type, e.a.Keys().SigningKID()
		forgedRaw, err := forged.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		none := jwt.NewWithClaims(jwt.SigningMethodNone, e.claims(svc, "", "demo.read"))
		none.Header["typ"] = token.Type
		noneRaw, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims(svc, "", "demo.read"))
		hmac.Header["typ"], hmac.Header["kid"] = token.Type, e.a.Keys().SigningKID()
		hmacRaw, err := hmac.SignedString([]byte(pub)) // the classic alg-confusion attempt
		if err != nil {
			t.Fatal(err)
		}
		plainJWT := jwt.NewWithClaims(jwt.SigningMethodEdDSA, e.claims(svc, "", "demo.read"))
		plainJWT.Header["typ"], plainJWT.Header["kid"] = "JWT", token.Thumbprint(pub)
		plainJWTRaw, _ := plainJWT.SignedString(priv)

		valid := e.token(svc, "", "demo.read")
		for _, tc := range []struct {
			name   string
			lines  []string
			status int
			code   string
			desc   string
		}{
			{"no Authorization", nil, 401, oauth.InvalidToken, "no bearer token: send Authorization: Bearer <token>"},
			{"Basic scheme", []string{"Authorization: Basic c3ZjOnNlY3JldA=="}, 401, oauth.InvalidToken, "the Authorization header must use the Bearer scheme"},
			{"scheme without token", []string{"Authorization: Bearer"}, 401, oauth.InvalidToken, "the bearer token is empty"},
			{"scheme glued to a token", []string{"Authorization: Bearer" + valid}, 401, oauth.InvalidToken, "the Authorization header must use the Bearer scheme"},
			{"token without scheme", []string{"Authorization: " + valid}, 401, oauth.InvalidToken, "the Authorization header must use the Bearer scheme"},
			{"empty bearer", []string{"Authorization: Bearer    "}, 401, oauth.InvalidToken, "the bearer token is empty"},
			{"garbage", []string{bearerLine("not-a-jwt")}, 401, oauth.InvalidToken, token.ErrMalformed.Error()},
			{"garbage with dots", []string{bearerLine("a.b.c")}, 401, oauth.InvalidToken, token.ErrMalformed.Error()},
			{"expired", []string{bearerLine(e.sign(expired))}, 401, oauth.InvalidToken, token.ErrExpired.Error()},
			{"other issuer", []string{bearerLine(e.sign(otherIssuer))}, 401, oauth.InvalidToken, token.ErrIssuer.Error()},
			{"other audience", []string{bearerLine(e.sign(otherAudience))}, 401, oauth.InvalidToken, token.ErrAudience.Error()},
			{"no jti", []string{bearerLine(e.sign(noJTI))}, 401, oauth.InvalidToken, token.ErrMalformed.Error()},
			{"unknown key", []string{bearerLine(foreignRaw)}, 401, oauth.InvalidToken, token.ErrUnknownKey.Error()},
			{"ring kid, foreign signature", []string{bearerLine(forgedRaw)}, 401, oauth.InvalidToken, token.ErrSignature.Error()},
			{"alg none", []string{bearerLine(noneRaw)}, 401, oauth.InvalidToken, token.ErrAlgorithm.Error()},
			{"alg HS256", []string{bearerLine(hmacRaw)}, 401, oauth.InvalidToken, token.ErrAlgorithm.Error()},
			{"typ JWT", []string{bearerLine(plainJWTRaw)}, 401, oauth.InvalidToken, token.ErrType.Error()},
			{"repeated Authorization", []string{bearerLine(valid), bearerLine(valid)}, 400, oauth.InvalidRequest, "the Authorization header is repeated"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				x := newExchange("/", tc.lines...)
				up := x.serve(t, g)
				wantRefused(t, x, up, tc.status, tc.code, tc.desc, "")
			})
		}
		// The scheme is case-insensitive (RFC 7235 §2.1).
		x := newExchange("/", "Authorization: bEaReR "+valid)
		wantPassed(t, x, x.serve(t, g))
	})
}

// Tokens that verified once (and sit in the verification cache) are refused
// on the very next request once their client is disabled or deleted, the
// token is revoked, or their user is disabled.
func TestWithdrawnTokensAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		st, rt := e.a.Store(), e.a.Runtime()
		g := e.guard(&Guard{})

		// pass checks raw is accepted now, so it is cached before the change.
		pass := func(t *testing.T, raw string) {
			t.Helper()
			x := newExchange("/", bearerLine(raw))
			wantPassed(t, x, x.serve(t, g))
		}
		refused := func(t *testing.T, raw string, err error) {
			t.Helper()
			x := newExchange("/", bearerLine(raw))
			wantRefused(t, x, x.serve(t, g), http.StatusUnauthorized, oauth.InvalidToken, err.Error(), "")
		}

		t.Run("disabled client", func(t *testing.T) {
			raw := e.token(plain, "", "demo.read")
			pass(t, raw)
			if err := st.SetClientDisabled(ctx, plain, true, tester); err != nil {
				t.Fatal(err)
			}
			rt.ForgetClient(plain)
			refused(t, raw, app.ErrClientDisabled)
			// Restoring the client makes the same token good again.
			if err := st.SetClientDisabled(ctx, plain, false, tester); err != nil {
				t.Fatal(err)
			}
			rt.ForgetClient(plain)
			pass(t, raw)
		})
		t.Run("deleted client", func(t *testing.T) {
			raw := e.token(userApp, "", "demo.read")
			pass(t, raw)
			if err := st.DeleteClient(ctx, userApp, tester); err != nil {
				t.Fatal(err)
			}
			rt.ForgetClient(userApp)
			refused(t, raw, app.ErrClientGone)
		})
		t.Run("revoked token", func(t *testing.T) {
			c := e.claims(svc, "", "demo.read")
			raw, other := e.sign(c), e.token(svc, "", "demo.read")
			pass(t, raw)
			pass(t, other)
			if err := st.Revoke(ctx, c.ID, svc, c.ExpiresAt.Time); err != nil {
				t.Fatal(err)
			}
			rt.MarkRevoked(store.Revocation{JTI: c.ID, ClientID: svc, ExpiresAt: c.ExpiresAt.Time})
			refused(t, raw, app.ErrRevoked)
			pass(t, other) // only that token
		})
		t.Run("disabled user", func(t *testing.T) {
			raw := e.token(svc, bob, "demo.read")
			pass(t, raw)
			u, err := st.GetUser(ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			u.Disabled = true
			if err := st.UpdateUser(ctx, u, tester, "user.disable"); err != nil {
				t.Fatal(err)
			}
			rt.ForgetUser(bob)
			refused(t, raw, app.ErrUserDisabled)
		})
		t.Run("user never existed", func(t *testing.T) {
			refused(t, e.token(svc, "u-ghost", "demo.read"), app.ErrUserDisabled)
		})
	})
}

// When the database cannot be reached the guard answers 503
// temporarily_unavailable with Retry-After, not 401: the token may be fine;
// itself, also where the site has handle_errors.
func TestDatabaseFailureIsNotAnInvalidToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{})
		raw := e.token(svc, "", "demo.read")
		if err := e.a.Store().Close(); err != nil {
			t.Fatal(err)
		}
		e.a.Runtime().ForgetClient(svc) // the client must now come from the (closed) database

		x := newExchange("/", bearerLine(raw))
		up := x.serve(t, g)
		if up.calls.Load() != 0 || x.w.Code != http.StatusServiceUnavailable || x.w.Header().Get("Retry-After") != "1" {
			t.Fatalf("calls %d, status %d, Retry-After %q", up.calls.Load(), x.w.Code, x.w.Header().Get("Retry-After"))
		}
		if !strings.Contains(x.w.Body.String(), `"error":"temporarily_unavailable"`) {
			t.Fatalf("body = %s", x.w.Body.String())
		}

		// With handle_errors the guard still answers its own failure: an
		// errors route proxying 503 to a fallback would get the request no
		// token was checked for (a review).
		x = serverExchange("api.test", caddyhttp.RouteList{{}}, "Authorization", "Bearer "+raw)
		err := g.ServeHTTP(x.w, x.r, new(upstream))
		if err != nil || x.w.Code != http.StatusServiceUnavailable || x.w.Header().Get("Retry-After") != "1" ||
			!strings.Contains(x.w.Body.String(), `"error":"temporarily_unavailable"`) {
			t.Fatalf("with handle_errors: %v, %d, Retry-After %q, body %s", err, x.w.Code, x.w.Header().Get("Retry-After"), x.w.Body)
		}
	})
}

// Scopes are checked against the route: every scope of "scopes" is needed,
// one of "any_scopes" is enough, implications count (demo.write gives
// demo.read), the route's legs and the catalogue legs of each required scope
// are enforced. Refusals are 403 insufficient_scope; scope refusals name the
// route's scopes in the challenge.
func TestScopesAndLegs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		const (
			need3 = "this route needs a 3-legged token (bound to a user)"
			need2 = "this route needs a 2-legged token (not bound to a user)"
		)
		for _, tc := range []struct {
			name   string
			g      Guard
			user   string // "" for a 2-legged token
			scopes string
			desc   string // "" when the request must pass
			scope  string // scope= of the challenge
		}{
			{"bare guard, token without scopes", Guard{}, "", "", "", ""},
			{"exact scope", Guard{Scopes: []string{"demo.read"}}, "", "demo.read", "", ""},
			{"missing scope", Guard{Scopes: []string{"demo.write"}}, "", "demo.read global", "the token lacks scope demo.write", "demo.write"},
			{"implied scope", Guard{Scopes: []string{"demo.read"}}, "", "demo.write", "", ""},
			{"implication is one-way", Guard{Scopes: []string{"demo.write"}}, "", "demo.read", "the token lacks scope demo.write", "demo.write"},
			{"all of two, both held", Guard{Scopes: []string{"demo.read", "global"}}, "", "global demo.write", "", ""},
			{"all of two, one held", Guard{Scopes: []string{"demo.read", "global"}}, "", "demo.write", "the token lacks scope global", "demo.read global"},
			{"all of two, other held", Guard{Scopes: []string{"demo.read", "global"}}, "", "global", "the token lacks scope demo.read", "demo.read global"},
			{"any of two, first", Guard{AnyScopes: []string{"demo.write", "global"}}, "", "demo.write", "", ""},
			{"any of two, second", Guard{AnyScopes: []string{"demo.write", "global"}}, "", "global", "", ""},
			{"any of two, implied", Guard{AnyScopes: []string{"demo.read", "user.only"}}, "", "demo.write", "", ""},
			{"any of two, none", Guard{AnyScopes: []string{"demo.write", "global"}}, "", "demo.read", "the token needs one of the scopes demo.write global", "demo.write global"},
			{"all plus any", Guard{Scopes: []string{"demo.read"}, AnyScopes: []string{"global", "user.only"}}, alice, "demo.read user.only", "", ""},
			{"all plus any, any missing", Guard{Scopes: []string{"demo.read"}, AnyScopes: []string{"global", "user.only"}}, alice, "demo.read", "the token needs one of the scopes global user.only", "global user.only"},
			{"legs 3 route, 3-legged", Guard{Legs: scope.ThreeLegged}, alice, "demo.read", "", ""},
			{"legs 3 route, 2-legged", Guard{Legs: scope.ThreeLegged}, "", "demo.read", need3, ""},
			{"legs 2 route, 2-legged", Guard{Legs: scope.TwoLegged}, "", "demo.read", "", ""},
			{"legs 2 route, 3-legged", Guard{Legs: scope.TwoLegged}, alice, "demo.read", need2, ""},
			{"user.only, 3-legged", Guard{Scopes: []string{"user.only"}}, alice, "user.only", "", ""},
			{"user.only, 2-legged", Guard{Scopes: []string{"user.only"}}, "", "user.only", need3, ""},
			{"global, 2-legged", Guard{Scopes: []string{"global"}}, "", "global", "", ""},
			{"global, 3-legged", Guard{Scopes: []string{"global"}}, alice, "global", need2, ""},
			{"any user.only, 2-legged", Guard{AnyScopes: []string{"user.only"}}, "", "user.only", need3, ""},
			{"any global, 3-legged", Guard{AnyScopes: []string{"global"}}, alice, "global", need2, ""},
			{"any global or demo.read, 3-legged", Guard{AnyScopes: []string{"global", "demo.read"}}, alice, "global demo.read", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantScopeDecision(t, e, &tc.g, "GET", tc.user, tc.scopes, tc.desc, tc.scope)
			})
		}
	})
}

// write_scopes applies to every method but GET, HEAD and OPTIONS, exactly
// as spelled (a lower-case "get" or PURGE is a write): a write without the
// write scope is 403 insufficient_scope naming it, a read needs only the
// guard's other scopes, the read scope is checked first, and a write scope
// that demands a user refuses a 2-legged token's write.
func TestWriteScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		rw := Guard{Scopes: []string{"demo.read"}, WriteScopes: []string{"demo.write"}}
		for _, tc := range []struct {
			name, method string
			g            Guard
			user, scopes string
			desc, scope  string // "" when the request must pass
		}{
			{"GET with read", "GET", rw, "", "demo.read", "", ""},
			{"HEAD with read", "HEAD", rw, "", "demo.read", "", ""},
			{"OPTIONS with read", "OPTIONS", rw, "", "demo.read", "", ""},
			{"POST with read only", "POST", rw, "", "demo.read", "the token lacks scope demo.write", "demo.write"},
			{"POST with write (implies read)", "POST", rw, "", "demo.write", "", ""},
			{"DELETE with read only", "DELETE", rw, "", "demo.read", "the token lacks scope demo.write", "demo.write"},
			{"lower-case get is a write", "get", rw, "", "demo.read", "the token lacks scope demo.write", "demo.write"},
			{"PURGE is a write", "PURGE", rw, "", "demo.read", "the token lacks scope demo.write", "demo.write"},
			{"POST without read: read named first", "POST", rw, "", "global", "the token lacks scope demo.read", "demo.read"},
			{"write scope for users only, 2-legged POST", "POST", Guard{WriteScopes: []string{"user.only"}}, "", "user.only",
				"this route needs a 3-legged token (bound to a user)", ""},
			{"write scope for users only, 2-legged GET", "GET", Guard{WriteScopes: []string{"user.only"}}, "", "demo.read", "", ""},
			{"write scope for users only, 3-legged POST", "POST", Guard{WriteScopes: []string{"user.only"}}, alice, "user.only", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantScopeDecision(t, e, &tc.g, tc.method, tc.user, tc.scopes, tc.desc, tc.scope)
			})
		}
	})
}

// A WebSocket opening is a GET, but past its 101 the proxy tunnels whatever
// the caller sends and no guard sees it: with write_scopes it needs them
// (hostile-client red team: a demo.read token opened a socket and sent a
// DELETE through it). Without write_scopes, without Connection naming
// Upgrade (then the proxy does not upgrade), or offering another protocol
// (dropped, the plain request goes on: the guard here runs without
// scopegate_strip), a read scope is enough.
func TestWebSocketOpeningNeedsWriteScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		rw := Guard{Scopes: []string{"demo.read"}, WriteScopes: []string{"demo.write"}}
		for _, tc := range []struct {
			name                string
			g                   Guard
			upgrade, connection string
			scopes              string
			pass                bool
		}{
			{"read-only token", rw, "websocket", "Upgrade", "demo.read", false},
			{"any case, in a list", rw, "WebSocket", "keep-alive, upgrade", "demo.read", false},
			{"token with the write scope", rw, "websocket", "Upgrade", "demo.write", true},
			{"no write_scopes", Guard{Scopes: []string{"demo.read"}}, "websocket", "Upgrade", "demo.read", true},
			{"Upgrade header without Connection naming it", rw, "websocket", "", "demo.read", true},
			{"h2c offered (dropped)", rw, "h2c", "Upgrade, HTTP2-Settings", "demo.read", true},
			{"a list offering websocket (dropped)", rw, "websocket, h2c", "Upgrade", "demo.read", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				x := newExchange("/", bearerLine(e.token(svc, "", tc.scopes)))
				x.r.Header.Set("Upgrade", tc.upgrade)
				if tc.connection != "" {
					x.r.Header.Set("Connection", tc.connection)
				}
				up := x.serve(t, e.guard(&tc.g))
				if tc.pass {
					wantPassed(t, x, up)
					return
				}
				wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope demo.write", "demo.write")
			})
		}
	})
}

// write_scopes are checked after the claim bindings, as a second guard
// behind a write matcher checked them: a write with a token bound to another
// application is refused for the binding, not for the missing write scope.
func TestWriteScopesAfterClaimBindings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, benchScopes)
		g := e.guard(&Guard{Scopes: []string{"demo.read"}, WriteScopes: []string{"demo.write"},
			MatchClaims: map[string]string{"application_id": "{http.request.uri.path.1}"}})
		c := e.claims(svc, "", "demo.read")
		c.Ext = map[string]string{"application_id": "app-2"}
		x := newExchange("/apps/app-1/items", bearerLine(e.sign(c)))
		x.r.Method = http.MethodPost
		up := x.serve(t, g)
		wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "the token is limited to application_id app-2", "")
	})
}

// match_claim with a placeholder keeps a token that carries the claim to the
// matching path segment; tokens without the claim are not restricted,
// unless one of their scopes requires it: such a token was minted before a
// reload made its scope require the claim, and reached every application
// (seen through the built binary); it is refused, 401 invalid_token, so its
// client gets a new one, bound to its application.
func TestMatchClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, benchScopes) // a scope requires application_id
		g := e.guard(&Guard{MatchClaims: map[string]string{"application_id": "{http.request.uri.path.1}"}})
		bound := func(app string) string {
			c := e.claims(svc, "", "demo.read")
			c.Ext = map[string]string{"application_id": app}
			return e.sign(c)
		}
		for _, tc := range []struct {
			name, path, raw string
			pass            bool
		}{
			{"matching segment", "/apps/app-1/items", bound("app-1"), true},
			{"other application", "/apps/app-2/items", bound("app-1"), false},
			{"prefix is not a match", "/apps/app-10", bound("app-1"), false},
			{"segment missing", "/apps", bound("app-1"), false},
			{"token without the claim", "/apps/app-2/items", e.token(svc, "", "demo.read"), true},
			{"token of a scope requiring the claim, without it", "/apps/app-2/items", e.token(svc, "", "demo.read application.session"), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				x := newExchange(tc.path, bearerLine(tc.raw))
				up := x.serve(t, g)
				if tc.pass {
					wantPassed(t, x, up)
					return
				}
				if strings.Contains(tc.name, "without it") {
					wantRefused(t, x, up, http.StatusUnauthorized, oauth.InvalidToken, descClaimMissing, "")
					return
				}
				wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "the token is limited to application_id app-1", "")
			})
		}
		// Dot segments would let segment 1 read "app-1" here while an
		// upstream that resolves them serves app-2. A backslash is a
		// separator to many upstreams, sent raw or as %5C. Every guarded
		// request is refused such a path (TestUnclearPathRefused), a token
		// without the claim too.
		for _, path := range []string{"/apps/app-1/../app-2/items", "/apps/app-1/%2e%2e/app-2", "/apps/app-1/%2E%2E%2Fapp-2", "/apps/app-1/./items",
			"/apps/app-1/..%5Capp-2", "/apps/app-1/..%5capp-2/items", `/apps/app-1/..\app-2`, "/apps/app-1%5C..%5Capp-2", "/apps/app-1/%2e%2e%5Capp-2",
			"/apps/app-1/%252e%252e%252fapp-2"} {
			t.Run("dot segments "+path, func(t *testing.T) {
				for _, raw := range []string{bound("app-1"), e.token(svc, "", "demo.read")} {
					x := newExchange(path, bearerLine(raw))
					wantRefused(t, x, x.serve(t, g), http.StatusBadRequest, oauth.InvalidRequest, descUnclearPath, "")
				}
			})
		}
		// Empty segments: routes match "/apps//app-2" as "/apps/app-2", but
		// the numbered placeholders count the empty segment. A token bound
		// to "apps" (a claim value the client chose) must not reach app-2
		// that way. A leading "//" is refused on every route, before the
		// binding is read (a URI-reference parser reads a host there).
		for path, why := range map[string]string{
			"/apps//app-2":       "the request path must not contain empty, . or .. segments",
			"//apps/app-2/items": descUnclearPath,
		} {
			t.Run("empty segments "+path, func(t *testing.T) {
				x := newExchange(path, bearerLine(bound("apps")))
				wantRefused(t, x, x.serve(t, g), http.StatusBadRequest, oauth.InvalidRequest, why, "")
			})
		}
		// An encoded slash is refused first, whatever the token.
		x := newExchange("/apps/%2fapp-2", bearerLine(bound("apps")))
		wantRefused(t, x, x.serve(t, g), http.StatusBadRequest, oauth.InvalidRequest, descEncodedSlash, "")
	})
}

// An encoded slash ("%2F", either case) in the path as sent is refused
// (400 invalid_request) on every guarded route, before the token is read:
// Caddy matched the route on the decoded path, where it ends a segment,
// while an upstream routing on the path as sent reads it inside one. The
// allow_encoded_slashes option lets it through (an upstream whose ids
// hold encoded slashes); a plain slash is none.
func TestEncodedSlashRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		strict := e.guard(&Guard{Scopes: []string{"demo.read"}})
		lenient := e.guard(&Guard{Scopes: []string{"demo.read"}, AllowEncodedSlashes: true})
		raw := e.token(svc, "", "demo.read")
		for _, path := range []string{"/v1/applications/a%2Fb/sessions", "/v1/applications/a%2fb", "/v1%2Fapplications"} {
			for _, authz := range []string{bearerLine(raw), ""} {
				x := newExchange(path, authz)
				wantRefused(t, x, x.serve(t, strict), http.StatusBadRequest, oauth.InvalidRequest, descEncodedSlash, "")
			}
			x := newExchange(path, bearerLine(raw))
			wantPassed(t, x, x.serve(t, lenient))
		}
		for _, path := range []string{"/v1/applications/a/b/sessions", "/v1/applications/caf%C3%A9"} {
			x := newExchange(path, bearerLine(raw))
			wantPassed(t, x, x.serve(t, strict))
		}
	})
}

// Impersonation: only on routes that enable it, only for api_key clients
// allowed to act for users, only as an active user of the client's own
// tenant (by id or username). The upstream then sees the user as
// X-Scopegate-User-Id and the client as X-Scopegate-Actor-Client-Id, and
// never the impersonation header itself. Unknown users and users of another
// tenant get the same answer.
func TestImpersonation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		off := e.guard(&Guard{})
		on := e.guard(&Guard{Impersonation: &Impersonation{}})
		custom := e.guard(&Guard{Impersonation: &Impersonation{Header: "x-on-behalf-of"}})
		const (
			notAllowed = "this client is not allowed to perform actions on behalf of users"
			noSuchUser = "no such user in this client's tenant"
		)
		svcToken := e.token(svc, "", "demo.read global")

		passAs := func(t *testing.T, g *Guard, header, as string) {
			t.Helper()
			x := newExchange("/", bearerLine(svcToken), header+": "+as, "X-Scopegate-Actor-Client-Id: forged")
			up := x.serve(t, g)
			wantPassed(t, x, up)
			for name, v := range map[string]string{
				"X-Scopegate-User-Id": alice, "X-Scopegate-Actor-Client-Id": svc,
				"X-Scopegate-Client-Id": svc, "X-Scopegate-Legs": "3",
			} {
				if got := up.header.Values(name); len(got) != 1 || got[0] != v {
					t.Errorf("upstream %s = %q, want [%q]", name, got, v)
				}
			}
			if v, ok := up.header[http.CanonicalHeaderKey(header)]; ok {
				t.Errorf("upstream saw the impersonation header %s: %q", header, v)
			}
			for name, v := range map[string]string{"scopegate.user_id": alice, "scopegate.actor": svc, "http.auth.user.id": alice, "scopegate.legs": "3"} {
				if got := x.placeholder(name); got != v {
					t.Errorf("{%s} = %q, want %q", name, got, v)
				}
			}
		}
		refuse := func(t *testing.T, g *Guard, raw, header, as, desc string) {
			t.Helper()
			x := newExchange("/", bearerLine(raw), header+": "+as)
			wantRefused(t, x, x.serve(t, g), http.StatusForbidden, oauth.InsufficientScope, desc, "")
		}

		t.Run("route without impersonation", func(t *testing.T) {
			refuse(t, off, svcToken, "X-Act-As-User", alice, "impersonation (X-Act-As-User) is not enabled on this route")
		})
		t.Run("client without the permission", func(t *testing.T) {
			refuse(t, on, e.token(plain, "", "demo.read"), "X-Act-As-User", alice, notAllowed)
		})
		t.Run("user-auth client with the flag", func(t *testing.T) {
			refuse(t, on, e.token(userApp, "", "demo.read"), "X-Act-As-User", alice, notAllowed)
		})
		t.Run("a token bound to a user", func(t *testing.T) {
			// A user's sign-in (or a token naming a user) speaks for that
			// user only. (A connect-as token is the client's own:
			// TestBigtincan in integration.)
			refuse(t, on, e.token(svc, bob, "demo.read global"), "X-Act-As-User", alice,
				"only the client's own tokens (2-legged, or connecting as its user) may act on behalf of users; this one is bound to a user")
		})
		t.Run("by id", func(t *testing.T) { passAs(t, on, "X-Act-As-User", alice) })
		t.Run("by username", func(t *testing.T) { passAs(t, on, "X-Act-As-User", alice+"-name") })
		t.Run("header name in another case", func(t *testing.T) { passAs(t, on, "x-act-as-user", alice) })
		t.Run("custom header", func(t *testing.T) { passAs(t, custom, "X-On-Behalf-Of", alice) })
		t.Run("unknown user", func(t *testing.T) {
			refuse(t, on, svcToken, "X-Act-As-User", "u-nobody", noSuchUser)
		})
		t.Run("user of another tenant, by id", func(t *testing.T) {
			refuse(t, on, svcToken, "X-Act-As-User", carol, noSuchUser)
		})
		t.Run("user of another tenant, by username", func(t *testing.T) {
			refuse(t, on, svcToken, "X-Act-As-User", carol+"-name", noSuchUser)
		})
		t.Run("a local username that is another tenant's user id", func(t *testing.T) {
			// carol (other tenant) has the id "carol"; a local user is
			// named "carol" too: the name within the client's tenant wins.
			local := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: carol}
			if err := e.a.Store().CreateUser(context.Background(), local, tester); err != nil {
				t.Fatal(err)
			}
			x := newExchange("/", bearerLine(svcToken), "X-Act-As-User: "+carol)
			up := x.serve(t, on)
			wantPassed(t, x, up)
			if got := up.header.Get("X-Scopegate-User-Id"); got != local.ID {
				t.Fatalf("acted as %q, want the local user %q", got, local.ID)
			}
		})
		t.Run("the other tenant's client reaches its own user", func(t *testing.T) {
			x := newExchange("/", bearerLine(e.token(otherSvc, "", "demo.read")), "X-Act-As-User: "+carol)
			up := x.serve(t, on)
			wantPassed(t, x, up)
			if got := up.header.Get("X-Scopegate-User-Id"); got != carol {
				t.Errorf("user = %q", got)
			}
		})
		t.Run("disabled user", func(t *testing.T) {
			refuse(t, on, svcToken, "X-Act-As-User", dave, "the user to act as is disabled")
		})
		t.Run("token that already acts for someone", func(t *testing.T) {
			c := e.claims(svc, alice, "demo.read")
			c.Act = &token.Actor{Subject: svc, ClientID: svc}
			refuse(t, on, e.sign(c), "X-Act-As-User", bob, "a token that already acts for someone cannot impersonate again")
		})
		t.Run("acting as a user makes the request 3-legged", func(t *testing.T) {
			g := e.guard(&Guard{Legs: scope.ThreeLegged, Impersonation: &Impersonation{}})
			passAs(t, g, "X-Act-As-User", alice)
			x := newExchange("/", bearerLine(svcToken))
			wantRefused(t, x, x.serve(t, g), http.StatusForbidden, oauth.InsufficientScope,
				"this route needs a 3-legged token (bound to a user)", "")
		})
		t.Run("a 2-legged-only scope does not carry over to the user", func(t *testing.T) {
			for _, g := range []*Guard{
				e.guard(&Guard{Scopes: []string{"global"}, Impersonation: &Impersonation{}}),
				e.guard(&Guard{AnyScopes: []string{"global"}, Impersonation: &Impersonation{}}),
			} {
				x := newExchange("/", bearerLine(svcToken), "X-Act-As-User: "+alice)
				up := x.serve(t, g)
				if up.calls.Load() != 0 || x.w.Code != http.StatusForbidden {
					t.Errorf("scopes %v any %v: status %d, calls %d; want 403", g.Scopes, g.AnyScopes, x.w.Code, up.calls.Load())
				}
			}
		})
	})
}

// Stacked guards: the first verifies and leaves the identity in a request
// variable; the second reuses it (it does not verify again: a revocation
// between the two does not affect it) and applies its own scope check.
func TestStackedGuards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		first := e.guard(&Guard{Scopes: []string{"demo.read"}})
		second := e.guard(&Guard{Scopes: []string{"demo.write"}})

		// chain runs first → between → second → upstream.
		chain := func(t *testing.T, x *exchange, between func(r *http.Request)) (*upstream, int) {
			t.Helper()
			up, reached := new(upstream), 0
			err := first.ServeHTTP(x.w, x.r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				reached++
				if between != nil {
					between(r)
				}
				return second.ServeHTTP(w, r, up)
			}))
			if err != nil {
				t.Fatal(err)
			}
			return up, reached
		}

		t.Run("second reuses the identity", func(t *testing.T) {
			c := e.claims(svc, "", "demo.write")
			raw := e.sign(c)
			x := newExchange("/", bearerLine(raw))
			var seen *Identity
			up, reached := chain(t, x, func(r *http.Request) {
				seen, _ = caddyhttp.GetVar(r.Context(), varClaims).(*Identity)
				if err := e.a.Store().Revoke(ctx, c.ID, svc, c.ExpiresAt.Time); err != nil {
					t.Error(err)
				}
				e.a.Runtime().MarkRevoked(store.Revocation{JTI: c.ID, ClientID: svc, ExpiresAt: c.ExpiresAt.Time})
			})
			if reached != 1 {
				t.Fatalf("first guard refused: %d %s", x.w.Code, x.w.Body.String())
			}
			wantPassed(t, x, up)
			if seen == nil || seen.Claims.ID != c.ID {
				t.Fatalf("identity var after the first guard = %+v", seen)
			}
			if got, _ := caddyhttp.GetVar(up.req.Context(), varClaims).(*Identity); got != seen {
				t.Fatal("the second guard replaced the identity")
			}
			// The revocation is real: a new request with the token fails at once.
			x = newExchange("/", bearerLine(raw))
			wantRefused(t, x, x.serve(t, second), http.StatusUnauthorized, oauth.InvalidToken, app.ErrRevoked.Error(), "")
		})
		t.Run("second refuses what the first allowed", func(t *testing.T) {
			x := newExchange("/", bearerLine(e.token(svc, "", "demo.read")))
			up, reached := chain(t, x, nil)
			if reached != 1 {
				t.Fatalf("first guard refused: %d %s", x.w.Code, x.w.Body.String())
			}
			wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope demo.write", "demo.write")
		})
		t.Run("impersonation must start at the first guard", func(t *testing.T) {
			late := e.guard(&Guard{Impersonation: &Impersonation{Header: "X-On-Behalf-Of"}})
			// The first guard knows the later one's header and refuses it.
			x := newExchange("/", bearerLine(e.token(svc, "", "demo.write")), "X-On-Behalf-Of: "+alice)
			up := new(upstream)
			err := first.ServeHTTP(x.w, x.r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				return late.ServeHTTP(w, r, up)
			}))
			if err != nil {
				t.Fatal(err)
			}
			wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope,
				"impersonation (X-On-Behalf-Of) is not enabled on this route", "")
			// A header set between the two (by another handler) cannot
			// change the identity the first guard settled either.
			x = newExchange("/", bearerLine(e.token(svc, "", "demo.write")))
			up = new(upstream)
			err = first.ServeHTTP(x.w, x.r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				r.Header.Set("X-On-Behalf-Of", alice)
				return late.ServeHTTP(w, r, up)
			}))
			if err != nil {
				t.Fatal(err)
			}
			wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope,
				"impersonation must be enabled on the first guard of the route", "")
		})
	})
}

// Many requests at once with one cached token each get their own identity
// headers (run with -race: the shared cached claims are only read).
func TestConcurrentRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Scopes: []string{"demo.read"}, Impersonation: &Impersonation{}})
		raw := e.token(svc, "", "demo.write")
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 25 {
					as := ""
					if (i+j)%2 == 0 {
						as = alice
					}
					x := newExchange("/", bearerLine(raw), "X-Act-As-User: "+as, fmt.Sprintf("X-Scopegate-User-Id: forged-%d", j))
					up := new(upstream)
					if err := g.ServeHTTP(x.w, x.r, up); err != nil || up.calls.Load() != 1 {
						t.Errorf("request %d/%d: err %v, status %d", i, j, err, x.w.Code)
						return
					}
					if got := up.header.Get("X-Scopegate-User-Id"); got != as {
						t.Errorf("request %d/%d: user %q, want %q", i, j, got, as)
					}
				}
			})
		}
		wg.Wait()
	})
}

// setup refuses scopes the catalogue does not define; Validate refuses legs
// other than 0, 2, 3, header prefixes that are short, lack the trailing
// dash or are not a valid header field name, and impersonation headers that
// are not valid names or start with the prefix.
func TestSetupAndValidate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		for _, g := range []*Guard{
			{Scopes: []string{"demo.read", "demo.nope"}},
			{AnyScopes: []string{"nope"}},
		} {
			err := g.setup(e.a, nil)
			if err == nil || !strings.Contains(err.Error(), "unknown scopes") || !strings.Contains(err.Error(), "nope") {
				t.Errorf("setup(%v %v) = %v, want unknown scopes", g.Scopes, g.AnyScopes, err)
			}
		}
		g := e.guard(&Guard{Scopes: []string{"scopegate.admin"}}) // built-ins are known
		if g.HeaderPrefix != DefaultHeaderPrefix || g.Realm != "scopegate" || g.actHeader != DefaultImpersonationHeader {
			t.Errorf("defaults: %q %q %q", g.HeaderPrefix, g.Realm, g.actHeader)
		}
	})

	for _, tc := range []struct {
		g  Guard
		ok bool
	}{
		{Guard{HeaderPrefix: "X-Scopegate-"}, true},
		{Guard{HeaderPrefix: "X-Id-", Legs: scope.TwoLegged}, true},
		{Guard{HeaderPrefix: "X-Id-", Legs: scope.ThreeLegged}, true},
		{Guard{HeaderPrefix: "X-Id-", Legs: 1}, false},
		{Guard{HeaderPrefix: "X-Id-", Legs: 4}, false},
		{Guard{HeaderPrefix: "X-Id-", Legs: -1}, false},
		{Guard{HeaderPrefix: ""}, false},
		{Guard{HeaderPrefix: "X-"}, false},
		{Guard{HeaderPrefix: "X-Scopegate"}, false},
		{Guard{HeaderPrefix: "X Scopegate-"}, false},
		{Guard{HeaderPrefix: "X-Scope:gate-"}, false},
		{Guard{HeaderPrefix: "X-Scopégate-"}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "X-On-Behalf"}}, true},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "X-On Behalf"}}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "x-scopegate-act-as"}}, false},
		// '_' and '.' spell the same header as '-' to CGI: every spelling
		// but the exact name is refused, so another guard's X-Act-As-User
		// and an X_Act_As_User would refuse each other.
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "X_Act_As_User"}}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "X.On.Behalf"}}, false},
		// Prefixes and impersonation headers that would claim standard headers.
		{Guard{HeaderPrefix: "X-Forwarded-"}, false},
		{Guard{HeaderPrefix: "Content-"}, false},
		{Guard{HeaderPrefix: "x_real-"}, false},
		{Guard{HeaderPrefix: "X-Identity-"}, true},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "Authorization"}}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "cookie"}}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "Host"}}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", Impersonation: &Impersonation{Header: "X_Forwarded_For"}}, false},
		{Guard{HeaderPrefix: "X-Id-", Impersonation: &Impersonation{Header: "X_Scopegate_Act"}}, false},
		{Guard{HeaderPrefix: "X-Scopegate-", IdentityHeaders: []string{"client_id", "claims"}}, true},
		{Guard{HeaderPrefix: "X-Scopegate-", IdentityHeaders: []string{"client_id", "client-id"}}, false},
	} {
		if len(tc.g.Scopes) == 0 {
			tc.g.AnyToken = true // read scopes are another case's
		}
		if err := tc.g.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(legs %d, prefix %q, impersonation %+v) = %v, want ok=%v", tc.g.Legs, tc.g.HeaderPrefix, tc.g.Impersonation, err, tc.ok)
		}
	}
}

// wantUpstreamHeaders fails unless the upstream got each header of want
// once with its value, and no other header (Authorization included: the
// guard keeps the token unless forward_token).
func wantUpstreamHeaders(t *testing.T, got http.Header, want map[string]string) {
	t.Helper()
	for name, v := range want {
		if vs := got.Values(name); len(vs) != 1 || vs[0] != v {
			t.Errorf("upstream %s = %q, want [%q]", name, vs, v)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("upstream got unexpected header %s: %q", name, got[name])
		}
	}
}

// A binding to a claim no scope requires is refused when the config loads:
// no token carries such a claim, and a token without the claim is not
// restricted by it, so a typo (applicationId) or a standard claim (tenant)
// would load and restrict nothing.
func TestMatchClaimOnlyOfRequiredClaims(t *testing.T) {
	e := newEnv(t, store.SQLite, benchScopes)
	for _, name := range []string{"applicationId", "tenant", "sub", "client_id"} {
		g := &Guard{MatchClaims: map[string]string{name: "{http.request.uri.path.1}"}}
		err := g.setup(e.a, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "no scope of the catalogue requires") {
			t.Fatalf("match_claim %s: setup answered %v", name, err)
		}
	}
	g := &Guard{MatchClaims: map[string]string{"application_id": "{http.request.uri.path.1}"}}
	if err := g.setup(e.a, zap.NewNop()); err != nil {
		t.Fatalf("a claim a scope requires: %v", err)
	}
}

// A guard without scopegate_strip in front applies the caller's Connection
// header itself before setting the identity: the next handler (the proxy,
// which deletes what Connection names) gets the identity headers and a
// Connection header that names none of them.
func TestGuardAppliesConnectionBeforeIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{})
		x := newExchange("/", bearerLine(e.token(svc, "", "demo.read")),
			"Connection: keep-alive, X-Scopegate-Client-Id, x-scopegate-legs, X-Mine", "X-Mine: 1")
		up := x.serve(t, g)
		wantPassed(t, x, up)
		if got := up.header.Get("Connection"); got != "keep-alive" {
			t.Errorf("Connection passed on = %q, want %q", got, "keep-alive")
		}
		if up.header.Get("X-Scopegate-Client-Id") != svc || up.header.Get("X-Scopegate-Legs") != "2" || up.header.Get("X-Mine") != "" {
			t.Errorf("headers passed on: %v", up.header)
		}
	})
}

// wantScopeDecision sends method through guard g with a token of svc for
// user ("" for 2-legged) holding scopes, and asserts it passes when desc is
// "", else that it is refused 403 insufficient_scope with desc and scope.
func wantScopeDecision(t *testing.T, e *env, g *Guard, method, user, scopes, desc, scope string) {
	t.Helper()
	x := newExchange("/", bearerLine(e.token(svc, user, scopes)))
	x.r.Method = method
	up := x.serve(t, e.guard(g))
	if desc == "" {
		wantPassed(t, x, up)
		return
	}
	wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, desc, scope)
}

// A guard naming no scope for reads must say any_token, in JSON as in a
// Caddyfile: write_scopes alone, or an empty scopes list from a template,
// let any valid token of any client read (config red team); any_token with
// read scopes contradicts itself.
func TestGuardWithoutReadScopesMustSayAnyToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    Guard
		ok   bool
	}{
		{"nothing", Guard{}, false},
		{"write_scopes alone", Guard{WriteScopes: []string{"demo.write"}}, false},
		{"empty scopes", Guard{Scopes: []string{}}, false},
		{"any_token", Guard{AnyToken: true}, true},
		{"any_token and write_scopes", Guard{AnyToken: true, WriteScopes: []string{"demo.write"}}, true},
		{"scopes", Guard{Scopes: []string{"demo.read"}}, true},
		{"any_scopes", Guard{AnyScopes: []string{"demo.read"}}, true},
		{"any_token and scopes", Guard{AnyToken: true, Scopes: []string{"demo.read"}}, false},
	} {
		tc.g.HeaderPrefix = DefaultHeaderPrefix
		if err := tc.g.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
