package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Hole 1 through Caddy: a tenant admin of the default tenant (a client with
// scopegate.tenant_admin) makes an admin user, who signs in to the console;
// the console refuses that user a scopegate.admin client (403, nothing
// made), and the tenant admin can neither make a super admin nor reset the
// password of one. A developer app may not request an admin scope (hole 17).
func TestNoEscalationThroughCaddy(t *testing.T) {
	eachDriverWith(t, "tenants.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, super, map[string]any{"name": "default-ta", "scopes": []string{"scopegate.tenant_admin"}})
		ta := mustTokenAt(t, g, "/oauth2/token", id, secret)
		createUser(t, g, ta, map[string]any{"username": "mallory", "admin": true, "password": userPassword})

		cc := signInConsole(t, g, "/admin", "default", "mallory", userPassword)
		if status, page := cc.get("/console/apps/new"); status != http.StatusOK || strings.Contains(page, `value="scopegate.admin"`) {
			t.Fatalf("add-application form: %d, offers scopegate.admin: %v", status, strings.Contains(page, `value="scopegate.admin"`))
		}
		status, page := cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"root-key"}, "scopes": {"scopegate.admin"}})
		if status != http.StatusForbidden || !strings.Contains(page, "only a super admin may grant") {
			t.Fatalf("a tenant admin's user asked the console for a scopegate.admin client: %d %s", status, page)
		}
		for _, item := range listItems(t, g, super, "/clients") {
			if item["name"] == "root-key" {
				t.Fatal("the refused client exists")
			}
		}
		wantStatus(t, g, ta, "POST", "/users", map[string]any{"username": "eve", "super_admin": true, "password": userPassword}, http.StatusForbidden)
		root := createUser(t, g, super, map[string]any{"username": "root", "super_admin": true, "password": userPassword})
		wantStatus(t, g, ta, "PATCH", "/users/"+root, map[string]any{"password": "mallory's own password"}, http.StatusForbidden)
		signInConsole(t, g, "/admin", "default", "root", userPassword) // the password is unchanged

		wantStatus(t, g, ta, "POST", "/apps", map[string]any{
			"name": "Grabby", "scopes": []string{"reports.read", "scopegate.tenant_admin"}, "tenant_ids": []string{"default"},
		}, http.StatusBadRequest)
	})
}

// Hole 15 through Caddy: an admin of acme makes an API key with
// scopegate.tenant_admin in the console; its client_credentials token
// administers acme until a super admin takes the admin flag away (403 at
// once), works again when the flag is back, and stops when the user is
// disabled.
func TestAPIKeyFollowsCreatorThroughCaddy(t *testing.T) {
	eachDriverWith(t, "tenants.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth2/token")
		acme := createTenant(t, g, super, "Acme")
		ada := createUser(t, g, super, map[string]any{"username": "ada", "tenant_id": acme, "admin": true, "password": userPassword})
		cc := signInConsole(t, g, "/admin", acme, "ada", userPassword)
		cc.get("/console/apps/new")
		status, page := cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-key"}, "scopes": {"scopegate.tenant_admin"}})
		if status != http.StatusCreated {
			t.Fatalf("ada's key: %d", status)
		}
		key := mustTokenAt(t, g, "/oauth2/token", inputValue(t, page, "client_id"), inputValue(t, page, "client_secret"))
		works := func(want int) {
			t.Helper()
			if status, body, _ := call(t, "GET", g.URL+"/admin/users", key, nil); status != want {
				t.Fatalf("the key at the admin API: %d %v, want %d", status, body, want)
			}
		}
		works(http.StatusOK)
		wantStatus(t, g, super, "PATCH", "/users/"+ada, map[string]any{"admin": false}, http.StatusOK)
		works(http.StatusForbidden)
		wantStatus(t, g, key, "PATCH", "/users/"+ada, map[string]any{"admin": true}, http.StatusForbidden)
		wantStatus(t, g, super, "PATCH", "/users/"+ada, map[string]any{"admin": true}, http.StatusOK)
		works(http.StatusOK)
		wantStatus(t, g, super, "PATCH", "/users/"+ada, map[string]any{"disabled": true}, http.StatusOK)
		works(http.StatusForbidden)
	})
}

// codeGrant runs the authorization code flow with PKCE in browser c as
// username (signing in and approving when the authorize endpoint asks) and
// redeems the code: it returns the access and refresh tokens.
func codeGrant(t *testing.T, g *gateway, c *http.Client, clientID, redirect, username, password string) (string, string) {
	t.Helper()
	verifier := "pkce-verifier-" + strings.Repeat("v", 40)
	sum := sha256.Sum256([]byte(verifier))
	params := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "state": {"s"},
		"scope": {"readUsersData"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	endpoint := g.URL + "/oauth/authorize"
	resp, err := c.Get(endpoint + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	for range 3 {
		if resp.StatusCode != http.StatusOK {
			break
		}
		form := url.Values{"action": {"approve"}, "csrf": {hiddenValue(body, "csrf")}}
		if strings.Contains(body, `name="password"`) {
			form.Set("action", "login")
			form.Set("username", username)
			form.Set("password", password)
		}
		for k, v := range params {
			form[k] = v
		}
		resp, body = postForm(t, c, endpoint, g.URL, form)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize as %s: %d %s %s", username, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	status, tokens := tokenForm(t, g, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirect}, "client_id": {clientID}, "code_verifier": {verifier}})
	access, _ := tokens["access_token"].(string)
	refresh, _ := tokens["refresh_token"].(string)
	if status != http.StatusOK || access == "" || refresh == "" {
		t.Fatalf("redeem: %d %v", status, tokens)
	}
	return access, refresh
}

// Hole 16 through the real code flow: a user's refresh token rotates; a
// password reset ends it (invalid_grant) and the access token issued with
// it stops at the guard; after signing in with the new password, disabling
// the user ends the new grant, and enabling the user again does not bring it
// back; revoking the user's consent ends a third.
func TestUserChangesEndRefreshTokensThroughCaddy(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		ada := createUser(t, g, admin, map[string]any{"username": "ada", "password": userPassword})
		redirect := "http://127.0.0.1:9/callback"
		clientID, _ := createClient(t, g, admin, map[string]any{"name": "Web App", "auth_method": "user", "public": true,
			"scopes": []string{"readUsersData"}, "redirect_uris": []string{redirect}})
		refreshWith := func(refresh string) (int, map[string]any) {
			return tokenForm(t, g, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}})
		}
		dead := func(what, access, refresh string) {
			t.Helper()
			if status, body := refreshWith(refresh); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("%s: the refresh token still works: %d (error %v)", what, status, body["error"])
			}
			// The guard learns of the revocation from the change feed.
			deadline := time.Now().Add(30 * time.Second)
			for {
				status, _, _ := call(t, "GET", g.URL+"/api/records", access, nil)
				if status == http.StatusUnauthorized {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the access token issued with the refresh token still works: %d", what, status)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}

		access, refresh := codeGrant(t, g, goBrowser(t), clientID, redirect, "ada", userPassword)
		status, rotated := refreshWith(refresh)
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, rotated)
		}
		access, refresh = rotated["access_token"].(string), rotated["refresh_token"].(string)
		const newPassword = "a brand new passphrase"
		wantStatus(t, g, admin, "PATCH", "/users/"+ada, map[string]any{"password": newPassword}, http.StatusOK)
		dead("password reset", access, refresh)

		access, refresh = codeGrant(t, g, goBrowser(t), clientID, redirect, "ada", newPassword)
		wantStatus(t, g, admin, "PATCH", "/users/"+ada, map[string]any{"disabled": true}, http.StatusOK)
		wantStatus(t, g, admin, "PATCH", "/users/"+ada, map[string]any{"disabled": false}, http.StatusOK)
		dead("disable and enable", access, refresh)

		access, refresh = codeGrant(t, g, goBrowser(t), clientID, redirect, "ada", newPassword)
		if status, _, _ := call(t, "DELETE", g.URL+"/admin/users/"+ada+"/consents/"+clientID, admin, nil); status != http.StatusNoContent {
			t.Fatalf("revoking the consent: %d", status)
		}
		dead("consent revoked", access, refresh)
	})
}

// A tenant admin of the default tenant connects an API key as a plain user
// (and so holds its secret); a super admin then makes that user a super
// admin. Through Caddy on the shipped bigtincan.Caddyfile, the key's token
// stops working at the API (401 invalid_token saying why), the token
// endpoint refuses it a new one (400 unauthorized_client), and neither the
// tenant admin nor a super admin's edit or rotation brings it back: the
// key's owner may read its secret. A key a super admin creates for the
// user works, and so does the tenant admin's once the user is demoted.
func TestConnectAsStopsWhenItsUserBecomesSuperAdmin(t *testing.T) {
	eachDriverWith(t, "bigtincan.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth/token")
		taID, taSecret := createClient(t, g, super, map[string]any{"name": "default-ta", "scopes": []string{"scopegate.tenant_admin"}})
		ta := mustTokenAt(t, g, "/oauth/token", taID, taSecret)
		eric := createUser(t, g, super, map[string]any{"username": "eric.zelman"})
		keyID, keySecret := createClient(t, g, ta, map[string]any{"name": "sync", "scopes": []string{"files.read"}, "connect_as_user_id": eric})
		speaksForEric := func(tok, what string) {
			t.Helper()
			if status, body, _ := call(t, "GET", g.URL+"/v5/files/1", tok, nil); status != http.StatusOK || body["user_id"] != eric {
				t.Fatalf("%s: %d %v", what, status, body)
			}
		}
		tok := mustTokenAt(t, g, "/oauth/token", keyID, keySecret)
		speaksForEric(tok, "the key's token before the promotion")

		wantStatus(t, g, super, "PATCH", "/users/"+eric, map[string]any{"admin": true, "super_admin": true}, http.StatusOK)
		status, body, h := call(t, "GET", g.URL+"/v5/files/1", tok, nil)
		if status != http.StatusUnauthorized || challenge(h) != "invalid_token" || !strings.Contains(flatten(body), "super admin") {
			t.Fatalf("the key's token after its user became a super admin: %d %v %q", status, body, h.Get("WWW-Authenticate"))
		}
		refused := func(secret, what string) {
			t.Helper()
			if status, body := tokenBasic(t, g, "/oauth/token", keyID, secret, nil); status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
				t.Fatalf("a new token for the key %s: %d %v", what, status, body)
			}
		}
		refused(keySecret, "after the promotion")
		wantStatus(t, g, ta, "PATCH", "/clients/"+keyID, map[string]any{"name": "sync-2"}, http.StatusForbidden)
		wantStatus(t, g, super, "PATCH", "/clients/"+keyID, map[string]any{"name": "sync-3", "connect_as_user_id": eric}, http.StatusOK)
		refused(keySecret, "after a super admin's edit")
		rotated := wantStatus(t, g, super, "POST", "/clients/"+keyID+"/rotate", map[string]any{"grace_seconds": 0}, http.StatusOK)
		refused(rotated["client_secret"].(string), "after a super admin's rotation")

		ownID, ownSecret := createClient(t, g, super, map[string]any{"name": "sync-by-super", "scopes": []string{"files.read"}, "connect_as_user_id": eric})
		speaksForEric(mustTokenAt(t, g, "/oauth/token", ownID, ownSecret), "a key a super admin made for the user")

		wantStatus(t, g, super, "PATCH", "/users/"+eric, map[string]any{"super_admin": false}, http.StatusOK)
		speaksForEric(mustTokenAt(t, g, "/oauth/token", keyID, rotated["client_secret"].(string)), "the tenant admin's key once the user is no super admin")
	})
}
