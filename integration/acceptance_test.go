package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/token"
)

// The README's walkthrough, step by step, through a real Caddy running the
// shipped Caddyfile in front of a real upstream: bootstrap an admin, get an
// admin token, create a client through the admin sub-route, get a token for
// it with the real x/oauth2 client, call the guarded route (200 with the
// identity the upstream received, forged identity headers stripped), 403
// without the scope, 401 without a token, with garbage and with an expired
// token, and 401 for the still-unexpired token once the client is disabled.
func TestAcceptanceWalkthrough(t *testing.T) {
	eachDriver(t, func(t *testing.T, g *gateway) {
		ctx := context.Background()

		// Step 3: bootstrap the first admin while the gateway runs.
		boot, err := app.AppFromConfigFile(g.CfgPath, "")
		if err != nil {
			t.Fatal(err)
		}
		adminID, adminSecret, err := boot.Bootstrap(ctx, false)
		if err != nil || adminID == "" || len(adminSecret) < 43 {
			t.Fatalf("bootstrap: %q %v", adminID, err)
		}
		if _, _, err := boot.Bootstrap(ctx, false); err == nil {
			t.Fatal("a second bootstrap succeeded")
		}

		// Step 4: an admin token, then a client created through /admin/.
		adminTok := mustToken(t, g, adminID, adminSecret, nil)
		status, created, _ := call(t, "POST", g.URL+"/admin/clients", adminTok, map[string]any{
			"name": "demo-app", "scopes": []string{"demo.read", "demo.write"}, "default_scopes": []string{"demo.read"},
		})
		clientID, _ := created["client_id"].(string)
		clientSecret, _ := created["client_secret"].(string)
		if status != http.StatusCreated || clientID == "" || clientSecret == "" {
			t.Fatalf("create client: %d %v", status, created)
		}

		// The real golang.org/x/oauth2 client obtains a token and calls the route.
		cc := clientcredentials.Config{
			ClientID: clientID, ClientSecret: clientSecret, TokenURL: g.URL + "/oauth2/token",
			Scopes: []string{"demo.read"}, AuthStyle: oauth2.AuthStyleInHeader,
		}
		httpClient := cc.Client(ctx)
		req, _ := http.NewRequest("GET", g.URL+"/api/hello", nil)
		req.Header.Set("X-Scopegate-User-Id", "forged-admin")
		req.Header.Set("x-scopegate-client-id", "forged-client")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("guarded GET with demo.read: %d", resp.StatusCode)
		}
		seen, _ := g.Upstream.Last()
		if seen.Get("X-Scopegate-Client-Id") != clientID || seen.Get("X-Scopegate-Scopes") != "demo.read" ||
			seen.Get("X-Scopegate-Legs") != "2" || seen.Get("X-Scopegate-Tenant") != "default" {
			t.Fatalf("upstream saw identity %v", seen)
		}
		if v := seen.Values("X-Scopegate-User-Id"); len(v) != 0 {
			t.Fatalf("forged user id reached the upstream: %v", v)
		}

		readTok := mustToken(t, g, clientID, clientSecret, nil)
		status, body, h := call(t, "POST", g.URL+"/api/items", readTok, map[string]string{"x": "y"})
		if status != http.StatusForbidden || challenge(h) != "insufficient_scope" || body["error"] != "insufficient_scope" {
			t.Fatalf("write with read-only token: %d %v %v", status, h, body)
		}
		writeTok := mustToken(t, g, clientID, clientSecret, url.Values{"scope": {"demo.write"}})
		if status, body, _ := call(t, "POST", g.URL+"/api/items", writeTok, map[string]string{"x": "y"}); status != http.StatusOK || body["method"] != "POST" {
			t.Fatalf("write with demo.write: %d %v", status, body)
		}

		// 401s: no token, garbage, expired.
		for name, tok := range map[string]string{"no token": "", "garbage": "not-a-token", "expired": expiredToken(t, g, clientID, "demo.read")} {
			status, body, h := call(t, "GET", g.URL+"/api/hello", tok, nil)
			if status != http.StatusUnauthorized || challenge(h) != "invalid_token" || body["error"] != "invalid_token" {
				t.Errorf("%s: %d %v %v", name, status, h.Get("WWW-Authenticate"), body)
			}
		}

		// Disable the client: its unexpired token is refused on the next request.
		if status, body, _ := call(t, "POST", g.URL+"/admin/clients/"+clientID+"/disable", adminTok, nil); status != http.StatusOK {
			t.Fatalf("disable: %d %v", status, body)
		}
		status, body, h = call(t, "GET", g.URL+"/api/hello", readTok, nil)
		if status != http.StatusUnauthorized || challenge(h) != "invalid_token" || !strings.Contains(body["error_description"].(string), "disabled") {
			t.Fatalf("token of disabled client: %d %v", status, body)
		}
		if status, body := tokenBasic(t, g, "/oauth2/token", clientID, clientSecret, nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("token for disabled client: %d %v", status, body)
		}

		// The unguarded route passes without a token, side by side.
		if status, _, _ := call(t, "GET", g.URL+"/public/hello", "", nil); status != http.StatusOK {
			t.Fatalf("public route: %d", status)
		}
	})
}

// expiredToken signs a correctly formed token for scope that expired an hour
// ago, with the gateway's own key, opening its database as an operator's
// shell would.
func expiredToken(t *testing.T, g *gateway, clientID, scope string) string {
	t.Helper()
	a := g.standaloneApp(t)
	past := time.Now().Add(-2 * time.Hour)
	raw, err := a.Sign(&token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: a.Issuer, Subject: clientID, Audience: jwt.ClaimStrings{a.Audience}, ID: "expired-1",
			IssuedAt: jwt.NewNumericDate(past), ExpiresAt: jwt.NewNumericDate(past.Add(time.Hour)),
		},
		ClientID: clientID, Scope: scope, Tenant: "default", Legs: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// RFC 8414 metadata and the JWKS are served where the Caddyfile mounts them,
// and the JWKS holds the key the issued tokens name.
func TestDiscoveryThroughCaddy(t *testing.T) {
	eachDriver(t, func(t *testing.T, g *gateway) {
		status, meta, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil)
		if status != 200 || meta["issuer"] != "http://localhost:"+strings.Split(g.URL, ":")[2] ||
			meta["token_endpoint"] != meta["issuer"].(string)+"/oauth2/token" {
			t.Fatalf("metadata: %d %v", status, meta)
		}
		status, jwks, _ := call(t, "GET", g.URL+"/.well-known/jwks.json", "", nil)
		keys, _ := jwks["keys"].([]any)
		if status != 200 || len(keys) != 1 || keys[0].(map[string]any)["crv"] != "Ed25519" {
			t.Fatalf("jwks: %d %v", status, jwks)
		}
	})
}
