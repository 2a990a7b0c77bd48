package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/token"
)

// nitroToken acquires a token the way Nitro's guide says: client_id and
// client_secret from the OAuth client, plus a user id for a 3-legged token.
func nitroToken(t *testing.T, g *gateway, id, secret string, extra url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := http.PostForm(g.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

// Nitro, as documented: without a user id the token is 2-legged, with
// user_id (or userId) 3-legged and bound to that user; gamification_user
// demands 3-legged and global 2-legged, at the token endpoint and at the
// guard; the default duration is 86400 s and the response looks like the
// documented example (token_type "bearer"); per-client duration and maximum
// duration per day cut and then refuse tokens per user; data import needs
// the batch-import client's batch_import scope; the "request, listen for 401,
// request a new token" pattern works; secrets are readable by their creator only.
func TestNitro(t *testing.T) {
	eachDriverWith(t, "nitro.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		player := createUser(t, g, admin, map[string]any{"username": "player-1"})
		other := createUser(t, g, admin, map[string]any{"username": "player-2"})
		id, secret := createClient(t, g, admin, map[string]any{
			"name": "web-components", "scopes": []string{"gamification_user", "global"},
			"default_scopes": []string{"global"}, "allow_user_tokens": true,
		})

		// 2-legged: no user id.
		status, two, _ := nitroToken(t, g, id, secret, nil)
		if status != 200 || two["token_type"] != "bearer" || two["expires_in"] != float64(86400) || two["scope"] != "global" {
			t.Fatalf("2-legged token: %d %v", status, two)
		}
		twoTok := two["access_token"].(string)
		if status, body, _ := call(t, "PUT", g.URL+"/api/admin/groups/g1", twoTok, map[string]string{}); status != 200 || body["legs"] != "2" || body["user_id"] != "" {
			t.Fatalf("2-legged on an admin route: %d %v", status, body)
		}
		if status, _, _ := nitroToken(t, g, id, secret, url.Values{"scope": {"gamification_user"}}); status != 400 {
			t.Fatalf("gamification_user without a user: %d", status)
		}

		// 3-legged: user_id, and userId as Nitro spells it too.
		for _, param := range []string{"user_id", "userId"} {
			status, three, _ := nitroToken(t, g, id, secret, url.Values{param: {player}, "scope": {"gamification_user"}})
			if status != 200 || three["scope"] != "gamification_user" {
				t.Fatalf("3-legged with %s: %d %v", param, status, three)
			}
			threeTok := three["access_token"].(string)
			status, body, _ := call(t, "GET", g.URL+"/api/users/me/points", threeTok, nil)
			if status != 200 || body["user_id"] != player || body["legs"] != "3" {
				t.Fatalf("3-legged on a user route: %d %v", status, body)
			}
			if status, _, h := call(t, "PUT", g.URL+"/api/admin/groups/g1", threeTok, map[string]string{}); status != 403 || challenge(h) != "insufficient_scope" {
				t.Fatalf("3-legged token on a 2-legged route: %d", status)
			}
		}
		if status, body, _ := nitroToken(t, g, id, secret, url.Values{"user_id": {player}, "scope": {"global"}}); status != 400 || body["error"] != "invalid_scope" ||
			!strings.Contains(body["error_description"].(string), "2-legged") {
			t.Fatalf("global in a 3-legged token: %d %v", status, body)
		}
		if status, _, _ := call(t, "GET", g.URL+"/api/users/me/points", twoTok, nil); status != 403 {
			t.Fatalf("2-legged token on a user route: %d", status)
		}

		// Per-client duration and maximum duration per day, counted per user.
		capID, capSecret := createClient(t, g, admin, map[string]any{
			"name": "kiosk", "scopes": []string{"gamification_user"}, "allow_user_tokens": true,
			"token_lifetime_minutes": 30, "max_minutes_per_day": 45,
		})
		want := []float64{1800, 900}
		for i, exp := range want {
			status, body, _ := nitroToken(t, g, capID, capSecret, url.Values{"user_id": {player}})
			if status != 200 || body["expires_in"] != exp {
				t.Fatalf("capped token %d: %d %v", i, status, body)
			}
		}
		status, refused, h := nitroToken(t, g, capID, capSecret, url.Values{"user_id": {player}})
		retry, _ := strconv.Atoi(h.Get("Retry-After"))
		if status != 400 || refused["error"] != "invalid_grant" || !strings.Contains(refused["error_description"].(string), "resets at") || retry <= 0 || retry > 25*3600 {
			t.Fatalf("allowance used up: %d %v Retry-After %q", status, refused, h.Get("Retry-After"))
		}
		if status, body, _ := nitroToken(t, g, capID, capSecret, url.Values{"user_id": {other}}); status != 200 || body["expires_in"] != float64(1800) {
			t.Fatalf("another user's allowance: %d %v", status, body)
		}

		// Data import: the batch-import client with batch_import; "an OAuth
		// Client named batch-import": no other client may hold the scope.
		if status, body, _ := call(t, "POST", g.URL+"/admin/clients", admin, map[string]any{"name": "not-batch", "scopes": []string{"batch_import"}}); status != 400 {
			t.Fatalf("batch_import for a client not named batch-import: %d %v", status, body)
		}
		biID, biSecret := createClient(t, g, admin, map[string]any{"name": "batch-import", "scopes": []string{"batch_import"}})
		if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+biID, admin, map[string]any{"name": "batch-export"}); status != 400 {
			t.Fatalf("renaming the batch-import client while it holds batch_import: %d %v", status, body)
		}
		_, bi, _ := nitroToken(t, g, biID, biSecret, nil)
		if status, _, _ := call(t, "POST", g.URL+"/api/import", bi["access_token"].(string), map[string]string{"rows": "1"}); status != 200 {
			t.Fatalf("import with batch_import: %d", status)
		}
		if status, _, _ := call(t, "POST", g.URL+"/api/import", twoTok, map[string]string{"rows": "1"}); status != 403 {
			t.Fatalf("import without batch_import: %d", status)
		}

		// "request a token, listen for 401, request a new token": the token
		// stops being valid (it expired, or it was revoked), the call gets
		// 401 invalid_token saying so, the client asks again and the retry
		// succeeds.
		followPattern := func(name, tokenNow string, why error) {
			t.Helper()
			attempts := 0
			for {
				attempts++
				status, body, h := call(t, "GET", g.URL+"/api/admin/groups", tokenNow, nil)
				if status == 200 {
					break
				}
				if status != 401 || challenge(h) != "invalid_token" || body["error_description"] != why.Error() || attempts > 2 {
					t.Fatalf("%s, attempt %d: %d %v %v; want 401 invalid_token %q", name, attempts, status, h, body, why)
				}
				_, fresh, _ := nitroToken(t, g, id, secret, nil)
				tokenNow = fresh["access_token"].(string)
			}
			if attempts != 2 {
				t.Fatalf("the %s token worked: %d attempts", name, attempts)
			}
		}
		followPattern("expired", expiredToken(t, g, id, "global"), token.ErrExpired)
		form := url.Values{"token": {twoTok}, "client_id": {id}, "client_secret": {secret}}
		if resp, err := http.PostForm(g.URL+"/oauth/revoke", form); err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke: %v %v", resp, err)
		}
		followPattern("revoked", twoTok, app.ErrRevoked)

		// The secret is visible to the admin who created the client, masked to others.
		_, mine, _ := call(t, "GET", g.URL+"/admin/clients/"+id+"/secret", admin, nil)
		if mine["client_secret"] != secret {
			t.Fatalf("creator cannot read the secret: %v", mine)
		}
		otherAdminID, otherAdminSecret := createClient(t, g, admin, map[string]any{"name": "second-admin", "scopes": []string{"scopegate.admin"}})
		otherAdmin := mustTokenAt(t, g, "/oauth/token", otherAdminID, otherAdminSecret)
		_, theirs, _ := call(t, "GET", g.URL+"/admin/clients/"+id+"/secret", otherAdmin, nil)
		if theirs["client_secret"] == secret || theirs["masked"] != true {
			t.Fatalf("another admin sees the secret: %v", theirs)
		}
	})
}

// mustTokenAt gets a client_credentials token from the endpoint at path.
func mustTokenAt(t *testing.T, g *gateway, path, id, secret string) string {
	t.Helper()
	status, body := tokenBasic(t, g, path, id, secret, nil)
	tok, _ := body["access_token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("token at %s: %d %v", path, status, body)
	}
	return tok
}

// Nitro Studio's default client: "The default Client (studio) is created the
// first time you use a feature that requires it." POST /admin/clients/ensure
// for "studio" twice creates exactly one client: 201 with the secret the
// first time, 200 with the same client_id and the secret masked the second;
// the first answer's secret gets tokens.
func TestNitroStudioClient(t *testing.T) {
	eachDriverWith(t, "nitro.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		body := map[string]any{"name": "studio", "scopes": []string{"gamification_user", "global"}, "default_scopes": []string{"global"}, "allow_user_tokens": true}

		status, first, _ := call(t, "POST", g.URL+"/admin/clients/ensure", admin, body)
		id, _ := first["client_id"].(string)
		secret, _ := first["client_secret"].(string)
		if status != http.StatusCreated || id == "" || secret == "" || secret == "********" {
			t.Fatalf("first use: %d %v", status, first)
		}
		status, second, _ := call(t, "POST", g.URL+"/admin/clients/ensure", admin, body)
		if status != http.StatusOK || second["client_id"] != id || second["client_secret"] != "********" {
			t.Fatalf("second use: %d %v", status, second)
		}
		studios := 0
		for _, c := range listItems(t, g, admin, "/clients?limit=500") {
			if c["name"] == "studio" {
				studios++
			}
		}
		if studios != 1 {
			t.Fatalf("%d clients named studio, want 1", studios)
		}
		if status, tok, _ := nitroToken(t, g, id, secret, nil); status != http.StatusOK || tok["scope"] != "global" {
			t.Fatalf("studio's token: %d %v", status, tok)
		}
	})
}

// Nitro's studio client holds gamification_user (3-legged only) and global
// (2-legged only) and asks with no scope, as the guide's request does:
// without a user it gets a 2-legged token with global, which updates
// groups; with a user id (userId or user_id) a 3-legged token with
// gamification_user for that user. A scope named explicitly keeps its
// error, and a client none of whose scopes fits the kind of token asked
// for is told so with invalid_scope.
func TestNitroBareRequests(t *testing.T) {
	eachDriverWith(t, "nitro.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		player := createUser(t, g, admin, map[string]any{"username": "player-1"})
		status, studio, _ := call(t, "POST", g.URL+"/admin/clients/ensure", admin, map[string]any{"name": "studio",
			"scopes": []string{"gamification_user", "global"}, "allow_user_tokens": true})
		id, _ := studio["client_id"].(string)
		secret, _ := studio["client_secret"].(string)
		if status != http.StatusCreated || id == "" || secret == "" {
			t.Fatalf("studio: %d %v", status, studio)
		}

		status, two, _ := nitroToken(t, g, id, secret, nil)
		if status != 200 || two["scope"] != "global" || two["token_type"] != "bearer" {
			t.Fatalf("no scope, no user: %d %v", status, two)
		}
		if status, body, _ := call(t, "PUT", g.URL+"/api/admin/groups/g1", two["access_token"].(string), map[string]string{}); status != 200 || body["legs"] != "2" {
			t.Fatalf("the 2-legged token on an admin route: %d %v", status, body)
		}
		for _, param := range []string{"userId", "user_id"} {
			status, three, _ := nitroToken(t, g, id, secret, url.Values{param: {player}})
			if status != 200 || three["scope"] != "gamification_user" {
				t.Fatalf("no scope, %s: %d %v", param, status, three)
			}
			if status, body, _ := call(t, "GET", g.URL+"/api/users/me/points", three["access_token"].(string), nil); status != 200 || body["user_id"] != player || body["legs"] != "3" {
				t.Fatalf("the 3-legged token on a user route: %d %v", status, body)
			}
		}

		if status, body, _ := nitroToken(t, g, id, secret, url.Values{"scope": {"gamification_user"}}); status != 400 || body["error"] != "invalid_scope" {
			t.Fatalf("gamification_user named without a user: %d %v", status, body)
		}
		wcID, wcSecret := createClient(t, g, admin, map[string]any{"name": "web-components", "scopes": []string{"gamification_user"}, "allow_user_tokens": true})
		status, body, _ := nitroToken(t, g, wcID, wcSecret, nil)
		if desc := fmt.Sprint(body["error_description"]); status != 400 || body["error"] != "invalid_scope" ||
			!strings.Contains(desc, "gamification_user") || !strings.Contains(desc, "3-legged") {
			t.Fatalf("nothing fits a 2-legged token: %d %v", status, body)
		}
	})
}

// nitro.Caddyfile's token endpoint says user_tokens every_client, as Nitro
// documents ("when your token request includes a user ID, you get a
// 3-legged token"): a client made with just a name and scopes, and the
// studio client made by ensure, name a user (user_id or userId) and get a
// 3-legged token the user routes accept, for that user. Naming an admin
// user still needs allow_user_tokens (400 unauthorized_client), as does
// any user-bound token from a client holding an admin scope or from an
// app's pair for the tenant (its secret is the app developer's); a token
// minted for a user who becomes an admin afterwards is refused.
func TestNitroAnyClientNamesAUser(t *testing.T) {
	eachDriverWith(t, "nitro.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		player := createUser(t, g, admin, map[string]any{"username": "player-7"})
		boss := createUser(t, g, admin, map[string]any{"username": "boss", "admin": true, "password": userPassword})
		id, secret := createClient(t, g, admin, map[string]any{"name": "web-app", "scopes": []string{"gamification_user", "global"}})
		status, studio, _ := call(t, "POST", g.URL+"/admin/clients/ensure", admin, map[string]any{"name": "studio", "scopes": []string{"gamification_user", "global"}})
		if status != http.StatusCreated {
			t.Fatalf("studio: %d %v", status, studio)
		}
		for _, c := range [][2]string{{id, secret}, {studio["client_id"].(string), studio["client_secret"].(string)}} {
			for _, form := range []url.Values{{"user_id": {player}}, {"userId": {"player-7"}}} {
				status, three, _ := nitroToken(t, g, c[0], c[1], form)
				if status != 200 || three["scope"] != "gamification_user" {
					t.Fatalf("%s with %v: %d %v", c[0], form, status, three)
				}
				if status, body, _ := call(t, "GET", g.URL+"/api/users/me/points", three["access_token"].(string), nil); status != 200 || body["user_id"] != player || body["legs"] != "3" {
					t.Fatalf("the 3-legged token on a user route: %d %v", status, body)
				}
			}
			if status, body, _ := nitroToken(t, g, c[0], c[1], url.Values{"user_id": {boss}}); status != 400 || body["error"] != "unauthorized_client" {
				t.Errorf("%s naming an admin user: %d %v, want 400 unauthorized_client", c[0], status, body)
			}
		}
		adminID, adminSecret := createClient(t, g, admin, map[string]any{"name": "ops", "scopes": []string{"global", "scopegate.tenant_admin"}})
		if status, body, _ := nitroToken(t, g, adminID, adminSecret, url.Values{"user_id": {player}}); status != 400 || body["error"] != "unauthorized_client" {
			t.Errorf("a client holding an admin scope naming a user: %d %v, want 400 unauthorized_client", status, body)
		}

		// An app's pair for a tenant: its secret is the app developer's.
		status, app, _ := call(t, "POST", g.URL+"/admin/apps", admin, map[string]any{"name": "Leaderboard", "scopes": []string{"gamification_user"}, "tenant_ids": []string{"default"}})
		if status != http.StatusCreated {
			t.Fatalf("register an app: %d %v", status, app)
		}
		status, pair, _ := call(t, "POST", g.URL+"/admin/integrations/"+app["id"].(string)+"/allow", admin, map[string]any{})
		if status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("allow the app: %d %v", status, pair)
		}
		if status, body, _ := nitroToken(t, g, pair["client_id"].(string), pair["client_secret"].(string), url.Values{"user_id": {player}}); status != 400 || body["error"] != "unauthorized_client" {
			t.Errorf("an app's tenant pair naming a user: %d %v, want 400 unauthorized_client", status, body)
		}

		// The user becomes an admin: the token minted for them as a plain
		// user is refused (401 invalid_token) once the change reaches the
		// gateway, and no new one is issued.
		_, three, _ := nitroToken(t, g, id, secret, url.Values{"user_id": {player}})
		tok := three["access_token"].(string)
		if status, body, _ := call(t, "PATCH", g.URL+"/admin/users/"+player, admin, map[string]any{"admin": true, "password": userPassword}); status != http.StatusOK {
			t.Fatalf("promote the player: %d %v", status, body)
		}
		waitFor(t, "the promoted user's every_client token to be refused", func() bool {
			status, _, h := call(t, "GET", g.URL+"/api/users/me/points", tok, nil)
			return status == http.StatusUnauthorized && strings.Contains(h.Get("WWW-Authenticate"), "invalid_token")
		})
		if status, body, _ := nitroToken(t, g, id, secret, url.Values{"user_id": {player}}); status != 400 || body["error"] != "unauthorized_client" {
			t.Errorf("naming the promoted user: %d %v, want 400 unauthorized_client", status, body)
		}
	})
}
