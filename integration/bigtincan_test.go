package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/module/store"
)

// Bigtincan custom apps: scopes cannot be empty; a "user" app cannot use
// server authentication; an api_key app connects as one user of its tenant;
// only an app allowed to "perform actions on behalf of users" may send
// X-Act-As-User, to act as any active user of its tenant (administrators
// included), and the upstream receives both the effective user and the
// acting client; unknown users and users of other tenants get the same 403.
func TestBigtincan(t *testing.T) {
	eachDriverWith(t, "bigtincan.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		eric := createUser(t, g, admin, map[string]any{"username": "eric.zelman", "display_name": "Eric Zelman"})
		boss := createUser(t, g, admin, map[string]any{"username": "boss", "admin": true})
		otherTenant := createTenant(t, g, admin, "Other Co")
		stranger := createUser(t, g, admin, map[string]any{"username": "stranger", "tenant_id": otherTenant})

		// Scopes cannot be empty.
		status, body, _ := call(t, "POST", g.URL+"/admin/clients", admin, map[string]any{"name": "empty", "scopes": []string{}, "connect_as_user_id": eric})
		if status != 400 || !strings.Contains(flatten(body), "scopes") {
			t.Fatalf("empty scopes: %d %v", status, body)
		}

		// Standard OAuth 2.0 (User Authentication) apps cannot use an API key.
		uID, uSecret := createClient(t, g, admin, map[string]any{"name": "portal", "auth_method": "user", "scopes": []string{"files.read"},
			"redirect_uris": []string{"https://portal.example/cb"}})
		if status, body := tokenBasic(t, g, "/oauth/token", uID, uSecret, nil); status != 400 || body["error"] != "unauthorized_client" {
			t.Fatalf("user app with client_credentials: %d %v", status, body)
		}
		if status, _, _ := call(t, "POST", g.URL+"/admin/clients", admin, map[string]any{"name": "portal2", "auth_method": "user",
			"scopes": []string{"files.read"}, "allow_impersonation": true}); status != 400 {
			t.Fatalf("a user app allowed to impersonate: %d", status)
		}

		// Connect as Eric: tokens act as Eric.
		plainID, plainSecret := createClient(t, g, admin, map[string]any{"name": "sync", "scopes": []string{"users.read", "files.read"}, "connect_as_user_id": eric})
		plain := mustTokenAt(t, g, "/oauth/token", plainID, plainSecret)
		status, body, _ = call(t, "GET", g.URL+"/v5/files/1", plain, nil)
		if status != 200 || body["user_id"] != eric || body["legs"] != "3" {
			t.Fatalf("connect-as token: %d %v", status, body)
		}
		// files.read only reads: no write reaches the API (405, Allow, a
		// JSON error like every other refusal).
		for _, method := range []string{"POST", "PUT", "PATCH", "DELETE", "post"} {
			if status, body, h := call(t, method, g.URL+"/v5/files/1", plain, map[string]string{}); status != http.StatusMethodNotAllowed ||
				h.Get("Allow") != "GET, HEAD, OPTIONS" || body["error"] != "method_not_allowed" || h.Get("Content-Type") != "application/json" {
				t.Errorf("%s /v5/files/1 with files.read: %d %v (Allow %q, Content-Type %q), want 405 with a JSON error", method, status, body, h.Get("Allow"), h.Get("Content-Type"))
			}
		}
		// Nor does a socket, which would carry writes past its 101: the
		// opening reaches the API as the plain GET it also is.
		if status, body, _ := sendRaw(t, g, "GET", "/v5/files/1", plain, "Connection", "Upgrade",
			"Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="); status != http.StatusOK {
			t.Errorf("a WebSocket opening on /v5/files/1: %d %s, want the plain GET's 200", status, body)
		}
		if seen, _ := g.Upstream.Last(); seen.Get("Upgrade") != "" || seen.Get("Connection") != "" {
			t.Errorf("a WebSocket opening on /v5/files/1 reached the API with Upgrade %q, Connection %q", seen.Get("Upgrade"), seen.Get("Connection"))
		}
		// The Custom Apps menu's address in Bigtincan's document leads to
		// the console's applications.
		if status, _, h := sendRaw(t, g, "GET", "/admin/custom-apps", ""); status != http.StatusFound || h.Get("Location") != "/admin/console/apps" {
			t.Errorf("GET /admin/custom-apps: %d to %q, want 302 to /admin/console/apps", status, h.Get("Location"))
		}
		// Without the permission, impersonation is refused.
		status, body, h := call(t, "GET", g.URL+"/v5/users/me", plain, nil, "X-Act-As-User", boss)
		if status != 403 || challenge(h) != "insufficient_scope" || !strings.Contains(body["error_description"].(string), "on behalf") {
			t.Fatalf("impersonation without permission: %d %v", status, body)
		}

		// With "perform actions on behalf of users": act as the administrator.
		actID, actSecret := createClient(t, g, admin, map[string]any{"name": "automation", "scopes": []string{"users.write", "stories.read"},
			"connect_as_user_id": eric, "allow_impersonation": true})
		act := mustTokenAt(t, g, "/oauth/token", actID, actSecret)
		status, body, _ = call(t, "POST", g.URL+"/v5/users", act, map[string]string{"name": "new"}, "X-Act-As-User", boss)
		if status != 200 || body["user_id"] != boss || body["actor"] != actID {
			t.Fatalf("acting as the admin: %d %v", status, body)
		}
		seen, _ := g.Upstream.Last()
		if seen.Get("X-Act-As-User") != "" {
			t.Fatal("the raw impersonation header reached the upstream")
		}
		// By username too.
		if status, body, _ := call(t, "GET", g.URL+"/v5/stories/1", act, nil, "X-Act-As-User", "boss"); status != 200 || body["user_id"] != boss {
			t.Fatalf("acting as a username: %d %v", status, body)
		}
		// Unknown users and users of another tenant: the same 403.
		_, unknown, _ := call(t, "GET", g.URL+"/v5/users/me", act, nil, "X-Act-As-User", "nobody")
		status, foreign, _ := call(t, "GET", g.URL+"/v5/users/me", act, nil, "X-Act-As-User", stranger)
		if status != 403 || foreign["error_description"] != unknown["error_description"] || unknown["error_description"] == nil {
			t.Fatalf("other tenant's user: %d %v vs %v", status, foreign, unknown)
		}
		// A disabled user cannot be impersonated.
		if status, _, _ := call(t, "PATCH", g.URL+"/admin/users/"+boss, admin, map[string]any{"disabled": true}); status != 200 {
			t.Fatalf("disable user: %d", status)
		}
		if status, _, _ := call(t, "GET", g.URL+"/v5/users/me", act, nil, "X-Act-As-User", boss); status != 403 {
			t.Fatalf("acting as a disabled user: %d", status)
		}
		// Scope checks still apply to the acting client.
		if status, _, _ := call(t, "GET", g.URL+"/v5/files/1", act, nil, "X-Act-As-User", eric); status != 403 {
			t.Fatalf("impersonation widened the scopes: %d", status)
		}
	})
}

// flatten renders a decoded JSON body for substring checks.
func flatten(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Bigtincan's "Standard OAuth 2.0 (User Authentication) uses a user's login
// to authorize the application", through bigtincan.Caddyfile: discovery
// publishes the authorize endpoint; a "user" app's authorization URL shows
// the sign-in page; a user of another tenant cannot sign in; Eric, a user
// of the tenant, signs in and the consent page shows the app's requested
// scope with its description (and not the app's other scope); he approves
// and the code comes back to the app's redirect with the state; the app
// redeems it with its secret for a token bound to Eric (and a refresh
// token); the token reaches the guarded API as Eric, with the user app as
// client, no further than the approved scope, and cannot act as another
// user with X-Act-As-User.
func TestBigtincanUserAuthentication(t *testing.T) {
	eachDriverWith(t, "bigtincan.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		eric := createUser(t, g, admin, map[string]any{"username": "eric.zelman", "display_name": "Eric Zelman", "password": userPassword})
		boss := createUser(t, g, admin, map[string]any{"username": "boss", "admin": true})
		otherTenant := createTenant(t, g, admin, "Other Co")
		createUser(t, g, admin, map[string]any{"username": "stranger", "tenant_id": otherTenant, "password": userPassword})
		const redirect = "https://portal.example/cb"
		appID, appSecret := createClient(t, g, admin, map[string]any{"name": "Portal", "auth_method": "user",
			"scopes": []string{"stories.read", "files.read"}, "redirect_uris": []string{redirect}})

		_, meta, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil)
		if meta["authorization_endpoint"] != fmt.Sprint(meta["issuer"])+"/oauth/authorize" {
			t.Fatalf("discovery publishes no authorize endpoint: %v", meta)
		}

		authURL := g.URL + "/oauth/authorize?response_type=code&client_id=" + appID + "&redirect_uri=" + url.QueryEscape(redirect) +
			"&scope=stories.read&state=xyz"
		b := newFormBrowser(t, g)
		signIn := b.open(authURL)
		if signIn.Status != http.StatusOK || !strings.Contains(signIn.Body, `id="sign-in"`) || !strings.Contains(signIn.Body, "Portal") {
			t.Fatalf("the authorization URL: %d %s", signIn.Status, signIn.Body)
		}
		if p := b.signIn(signIn, "stranger", userPassword); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Wrong username or password.") {
			t.Fatalf("another tenant's user signing in: %d", p.Status)
		}
		consent := b.signIn(signIn, "eric.zelman", userPassword)
		if consent.Status != http.StatusOK || textOf(consent.Body, "user") != "Eric Zelman" ||
			!strings.Contains(consent.Body, "stories.read") || !strings.Contains(consent.Body, "Read story data") || strings.Contains(consent.Body, "files.read") {
			t.Fatalf("the consent page: %d %s", consent.Status, consent.Body)
		}
		approved := b.submit(consent, "approve", nil)
		loc, err := url.Parse(approved.Header.Get("Location"))
		if approved.Status != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
			t.Fatalf("approval: %d %q", approved.Status, approved.Header.Get("Location"))
		}

		status, tok := tokenBasic(t, g, "/oauth/token", appID, appSecret, url.Values{"grant_type": {"authorization_code"},
			"code": {loc.Query().Get("code")}, "redirect_uri": {redirect}})
		access, _ := tok["access_token"].(string)
		if status != http.StatusOK || access == "" || tok["refresh_token"] == nil || tok["scope"] != "stories.read" {
			t.Fatalf("redeeming the code: %d %v", status, tok)
		}
		if c := tokenClaims(t, access); c["sub"] != eric || c["legs"] != float64(3) || c["client_id"] != appID {
			t.Fatalf("the token: %v", c)
		}
		status, body, _ := call(t, "GET", g.URL+"/v5/stories/1", access, nil)
		if status != http.StatusOK || body["user_id"] != eric || body["client_id"] != appID || body["legs"] != "3" || body["actor"] != "" {
			t.Fatalf("the API as Eric: %d %v", status, body)
		}
		if status, _, _ := call(t, "GET", g.URL+"/v5/files/1", access, nil); status != http.StatusForbidden {
			t.Fatalf("a scope Eric did not approve: %d", status)
		}
		status, body, h := call(t, "GET", g.URL+"/v5/stories/1", access, nil, "X-Act-As-User", boss)
		if status != http.StatusForbidden || challenge(h) != "insufficient_scope" || !strings.Contains(fmt.Sprint(body["error_description"]), "on behalf") {
			t.Fatalf("X-Act-As-User with a user's token: %d %v", status, body)
		}
	})
}

// The same journey in Chromium: Eric opens the app's authorization URL,
// signs in, sees the scope on the consent page and approves; the browser
// lands on the app's callback with the code, which the app redeems for a
// token that reaches the API as Eric.
func TestBigtincanUserAuthenticationBrowser(t *testing.T) {
	eachDriverWith(t, "bigtincan.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		eric := createUser(t, g, admin, map[string]any{"username": "eric.zelman", "display_name": "Eric Zelman", "password": userPassword})
		var mu sync.Mutex
		var queries []string
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/cb" {
				http.NotFound(w, r)
				return
			}
			mu.Lock()
			queries = append(queries, r.URL.RawQuery)
			mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><p id="callback">back in the app</p>`)
		}))
		defer app.Close()
		redirect := app.URL + "/cb"
		appID, appSecret := createClient(t, g, admin, map[string]any{"name": "Portal", "auth_method": "user",
			"scopes": []string{"stories.read"}, "redirect_uris": []string{redirect}})

		ctx := chrome(t)
		step(t, ctx, "open the authorization URL", chromedp.Navigate(g.URL+"/oauth/authorize?response_type=code&client_id="+appID+
			"&redirect_uri="+url.QueryEscape(redirect)+"&scope=stories.read&state=xyz"), chromedp.WaitVisible(chromedp.ID("username")))
		step(t, ctx, "sign in",
			chromedp.SendKeys(chromedp.ID("username"), "eric.zelman"),
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("approve")))
		if scopes := read(t, ctx, "scopes", chromedp.Text(chromedp.ID("scopes"))); !strings.Contains(scopes, "stories.read") || !strings.Contains(scopes, "Read story data") {
			t.Fatalf("the consent page lists %q", scopes)
		}
		screenshot(t, ctx, "consent")
		step(t, ctx, "approve", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("callback")))
		mu.Lock()
		got, _ := url.ParseQuery(queries[len(queries)-1])
		mu.Unlock()
		if got.Get("state") != "xyz" || got.Get("code") == "" {
			t.Fatalf("the callback got %v", got)
		}
		status, tok := tokenBasic(t, g, "/oauth/token", appID, appSecret, url.Values{"grant_type": {"authorization_code"},
			"code": {got.Get("code")}, "redirect_uri": {redirect}})
		access, _ := tok["access_token"].(string)
		if status != http.StatusOK || access == "" {
			t.Fatalf("redeeming the code: %d %v", status, tok)
		}
		if status, body, _ := call(t, "GET", g.URL+"/v5/stories/1", access, nil); status != http.StatusOK || body["user_id"] != eric {
			t.Fatalf("the API with the browser's token: %d %v", status, body)
		}
	})
}

// In Bigtincan's catalogue a write implies the read of its area, where the
// list has one: an API key holding only X.write gets an X.read token, for
// every such pair of bigtincan.Caddyfile (read from the file, so a new
// pair without its implication fails here).
func TestBigtincanWritesImplyReads(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "caddyfiles", "bigtincan.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, m := range regexp.MustCompile(`scope (\w+)\.write `).FindAllStringSubmatch(string(body), -1) {
		if strings.Contains(string(body), "scope "+m[1]+".read ") {
			pairs = append(pairs, m[1])
		}
	}
	if len(pairs) < 6 {
		t.Fatalf("read/write pairs found: %v", pairs)
	}
	g := startGateway(t, "bigtincan.Caddyfile", store.SQLite)
	admin := bootstrapAdmin(t, g, "/oauth/token")
	eric := createUser(t, g, admin, map[string]any{"username": "eric.zelman"})
	for _, area := range pairs {
		id, secret := createClient(t, g, admin, map[string]any{"name": "writer-" + area, "scopes": []string{area + ".write"}, "connect_as_user_id": eric})
		if status, tok := tokenBasic(t, g, "/oauth/token", id, secret, url.Values{"scope": {area + ".read"}}); status != 200 || tok["scope"] != area+".read" {
			t.Errorf("%s.write asking for %s.read: %d %v", area, area, status, tok)
		}
	}
}
