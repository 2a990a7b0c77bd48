package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Imagen API keys: the key is tied to the user who created it, so the
// upstream sees that user as the creator of what a call creates; a scope
// must be assigned by an admin before the client can ask for it
// (invalid_scope until then).
func TestImagenAPIKeys(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		creator := createUser(t, g, admin, map[string]any{"username": "media-importer", "display_name": "Media Importer (app)"})
		id, secret := createClient(t, g, admin, map[string]any{"name": "importer", "scopes": []string{"readUsersData", "modifyUsersData"},
			"connect_as_user_id": creator})

		tok := mustTokenAt(t, g, "/oauth/token", id, secret)
		status, body, _ := call(t, "POST", g.URL+"/api/records", tok, map[string]string{"title": "clip"})
		if status != 200 || body["user_id"] != creator {
			t.Fatalf("record created as %v (%d), want the key's creator %s", body["user_id"], status, creator)
		}

		// createJobs is not assigned yet.
		status, refused := tokenBasic(t, g, "/oauth/token", id, secret, url.Values{"scope": {"createJobs"}})
		if status != 400 || refused["error"] != "invalid_scope" {
			t.Fatalf("unassigned scope: %d %v", status, refused)
		}
		if status, _, _ := call(t, "POST", g.URL+"/api/jobs", tok, map[string]string{}); status != 403 {
			t.Fatalf("job creation without createJobs: %d", status)
		}
		// The admin assigns it; now the client may ask for it.
		if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{
			"scopes": []string{"readUsersData", "modifyUsersData", "createJobs"}}); status != 200 {
			t.Fatalf("assign createJobs: %d %v", status, body)
		}
		_, granted := tokenBasic(t, g, "/oauth/token", id, secret, url.Values{"scope": {"createJobs"}})
		jobs, _ := granted["access_token"].(string)
		if status, body, _ := call(t, "POST", g.URL+"/api/jobs", jobs, map[string]string{}); status != 200 || body["user_id"] != creator {
			t.Fatalf("job creation with createJobs: %d %v", status, body)
		}
	})
}

// tokenClaims reads the payload of a JWT the gateway issued (its signature
// is the gateway's business; the test reads what it says).
func tokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// Imagen ties an API key to the user who created it (connect_as_creator in
// imagen.Caddyfile): an admin user signs in to the console and adds an API
// key without choosing anyone; the key connects as and belongs to that
// user, its client_credentials token is 3-legged and bound to that user, and
// the upstream sees that user as the creator of the record the call makes.
// The same admin makes itself an admin key in the console; with that
// key's user-bound admin token, a key created through the admin API is tied
// to the admin too, and naming another user is a 400 naming
// connect_as_user_id.
func TestImagenKeyTiedToCreator(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		const password = "media admin passphrase"
		ada := createUser(t, g, admin, map[string]any{"username": "ada", "display_name": "Ada (media)", "password": password, "admin": true})
		other := createUser(t, g, admin, map[string]any{"username": "media-importer"})

		cc := signInConsole(t, g, "/admin", "default", "ada", password)
		if status, page := cc.get("/console/apps/new"); status != http.StatusOK || !strings.Contains(page, `id="connect_as_creator"`) {
			t.Fatalf("add-application form: %d, connect-as-creator note shown: %v", status, strings.Contains(page, `id="connect_as_creator"`))
		}
		status, page := cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-importer"},
			"scopes": {"readUsersData", "modifyUsersData"}})
		if status != http.StatusCreated {
			t.Fatalf("adding the key in the console: %d", status)
		}
		id, secret := inputValue(t, page, "client_id"), inputValue(t, page, "client_secret")

		_, view, _ := call(t, "GET", g.URL+"/admin/clients/"+id, admin, nil)
		if view["connect_as_user_id"] != ada || view["owner"] != ada {
			t.Fatalf("the console's key connects as %v and belongs to %v, want ada %s", view["connect_as_user_id"], view["owner"], ada)
		}
		tok := mustTokenAt(t, g, "/oauth/token", id, secret)
		if c := tokenClaims(t, tok); c["sub"] != ada || c["legs"] != float64(3) || c["client_id"] != id {
			t.Fatalf("the key's token says sub %v legs %v client %v, want ada, 3, %s", c["sub"], c["legs"], c["client_id"], id)
		}
		status, body, _ := call(t, "POST", g.URL+"/api/records", tok, map[string]string{"title": "clip"})
		if last, _ := g.Upstream.Last(); status != 200 || body["user_id"] != ada || last.Get("X-Scopegate-User-Id") != ada {
			t.Fatalf("record created as %v (%d), want the key's creator ada %s", body["user_id"], status, ada)
		}

		// ada's own admin key, then the admin API with its user-bound token.
		status, page = cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-admin"}, "scopes": {"scopegate.tenant_admin"}})
		if status != http.StatusCreated {
			t.Fatalf("adding ada's admin key in the console: %d", status)
		}
		adaAdmin := mustTokenAt(t, g, "/oauth/token", inputValue(t, page, "client_id"), inputValue(t, page, "client_secret"))
		if c := tokenClaims(t, adaAdmin); c["sub"] != ada || c["legs"] != float64(3) {
			t.Fatalf("ada's admin token: sub %v legs %v", c["sub"], c["legs"])
		}
		apiID, apiSecret := createClient(t, g, adaAdmin, map[string]any{"name": "ada-api-key", "scopes": []string{"readUsersData"}})
		_, view, _ = call(t, "GET", g.URL+"/admin/clients/"+apiID, admin, nil)
		if view["connect_as_user_id"] != ada || view["owner"] != ada {
			t.Fatalf("the API's key connects as %v and belongs to %v, want ada", view["connect_as_user_id"], view["owner"])
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", mustTokenAt(t, g, "/oauth/token", apiID, apiSecret), nil); status != 200 || body["user_id"] != ada {
			t.Fatalf("the API's key reads as %v (%d), want ada", body["user_id"], status)
		}
		status, refused, _ := call(t, "POST", g.URL+"/admin/clients", adaAdmin, map[string]any{"name": "as-other", "scopes": []string{"readUsersData"}, "connect_as_user_id": other})
		errs, _ := refused["errors"].([]any)
		if status != http.StatusBadRequest || len(errs) != 1 || errs[0].(map[string]any)["field"] != "connect_as_user_id" {
			t.Fatalf("naming another user: %d %v", status, refused)
		}
	})
}

// Imagen's documented OAuth URL, with two users: "The application will be
// authenticated by the user account that created it, as the API Key is
// tied to a user ID". ada, an admin, adds an API key in the console with
// the out-of-band redirect. bob opens the document's example URL with
// ada's key, literally as a browser sends it ("response_type=token "
// becomes token%20), and signs in: he sees a 403 page saying only that user
// can authorize the application, with no consent form and no token, and
// the same when he comes back. ada opens the same URL, signs in, sees both
// scopes on the consent page, approves and reads a token acting as herself
// (state 1), which creates a record as ada. The bracket variant of the
// example URL (scope=[readUsersData modifyUsersData]) works too, straight
// to the token page since ada approved those scopes.
func TestImagenOAuthURLOnlyForTheKeysUser(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		ada := createUser(t, g, admin, map[string]any{"username": "ada", "display_name": "Ada (media)", "password": userPassword, "admin": true})
		createUser(t, g, admin, map[string]any{"username": "bob", "password": userPassword})

		key := consoleAPIKey(t, g, "ada", "ada-desktop", "urn:ietf:wg:oauth:2.0:oob", "readUsersData", "modifyUsersData")
		documented := g.URL + "/oauth/authorize?response_type=token%20&client_id=" + key +
			"&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=readUsersData%20modifyUsersData"

		bob := newFormBrowser(t, g)
		signIn := bob.open(documented)
		if signIn.Status != http.StatusOK || !strings.Contains(signIn.Body, `id="sign-in"`) {
			t.Fatalf("the documented URL: %d %s", signIn.Status, signIn.Body)
		}
		for name, p := range map[string]authPage{"signing in": bob.signIn(signIn, "bob", userPassword), "coming back": bob.open(documented)} {
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "This application acts as another user; only that user can authorize it.") ||
				strings.Contains(p.Body, `value="approve"`) || strings.Contains(p.Body, `id="token"`) {
				t.Fatalf("bob %s: %d %s", name, p.Status, p.Body)
			}
		}

		adaB := newFormBrowser(t, g)
		consent := adaB.signIn(adaB.open(documented), "ada", userPassword)
		if consent.Status != http.StatusOK || !strings.Contains(consent.Body, "readUsersData") || !strings.Contains(consent.Body, "modifyUsersData") {
			t.Fatalf("ada's consent page: %d %s", consent.Status, consent.Body)
		}
		done := adaB.submit(consent, "approve", nil)
		tok := oobToken(t, done)
		if textOf(done.Body, "state") != "1" || textOf(done.Body, "scope") != "readUsersData modifyUsersData" {
			t.Fatalf("the token page: state %q scope %q", textOf(done.Body, "state"), textOf(done.Body, "scope"))
		}
		if c := tokenClaims(t, tok); c["sub"] != ada || c["client_id"] != key || c["legs"] != float64(3) {
			t.Fatalf("ada's token: %v", c)
		}
		if status, body, _ := call(t, "POST", g.URL+"/api/records", tok, map[string]string{"title": "clip"}); status != 200 || body["user_id"] != ada {
			t.Fatalf("a record with ada's token: %d %v", status, body)
		}

		bracketed := g.URL + "/oauth/authorize?response_type=token%20&client_id=" + key +
			"&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=[readUsersData%20modifyUsersData]"
		again := adaB.open(bracketed)
		if tok := oobToken(t, again); tokenClaims(t, tok)["scope"] != "readUsersData modifyUsersData" || tokenClaims(t, tok)["sub"] != ada {
			t.Fatalf("the bracket variant: %v", tokenClaims(t, tok))
		}
	})
}

// imagen.Caddyfile's authorize endpoint says oob every_client: an API key
// added in the console with the Redirect URL left empty still gets the
// document's example URL (redirect_uri=urn:ietf:wg:oauth:2.0:oob, "the
// default redirect value for an Installed Application") through sign-in and
// consent to the token page; an unregistered https redirect is still
// refused with the error page and no token. The unregistered oob asks for
// approval every time. The key pasted inside the example's placeholder
// brackets (client_id=[…]) is that key.
func TestImagenOOBNeedsNoRegistration(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		ada := createUser(t, g, admin, map[string]any{"username": "ada", "password": userPassword, "admin": true})
		key := consoleAPIKey(t, g, "ada", "ada-cli", "", "readUsersData")
		b := newFormBrowser(t, g)
		evil := b.open(g.URL + "/oauth/authorize?response_type=token&client_id=" + key + "&redirect_uri=https://evil.example/cb&state=1&scope=readUsersData")
		if evil.Status != http.StatusBadRequest || strings.Contains(evil.Body, `id="token"`) {
			t.Fatalf("an unregistered https redirect: %d %s", evil.Status, evil.Body)
		}
		consent := b.signIn(b.open(g.URL+"/oauth/authorize?response_type=token%20&client_id="+key+
			"&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=readUsersData"), "ada", userPassword)
		if consent.Status != http.StatusOK || !strings.Contains(consent.Body, "readUsersData") {
			t.Fatalf("the consent page: %d %s", consent.Status, consent.Body)
		}
		done := b.submit(consent, "approve", nil)
		if c := tokenClaims(t, oobToken(t, done)); c["sub"] != ada || c["client_id"] != key || textOf(done.Body, "state") != "1" {
			t.Fatalf("the token page: claims %v state %q", c, textOf(done.Body, "state"))
		}
		// The example's placeholder brackets kept around the key
		// (client_id=[Your_API key_here]): the key inside them.
		// The unregistered oob asks again each time: no token without a click.
		again := b.open(g.URL + "/oauth/authorize?response_type=token&client_id=%5B" + key + "%5D&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=[readUsersData]")
		if again.Status != http.StatusOK || !strings.Contains(again.Body, `value="approve"`) || strings.Contains(again.Body, `id="token"`) {
			t.Fatalf("asked again: %d %s", again.Status, again.Body)
		}
		if c := tokenClaims(t, oobToken(t, b.submit(again, "approve", nil))); c["client_id"] != key {
			t.Fatalf("client_id in brackets: claims %v", c)
		}
	})
}

// consoleAPIKey signs user (an admin of the default tenant, password
// userPassword) in to the console and adds an api_key app with the implicit
// grant, the redirect URL (may be empty) and scopes, as the Add application
// form does, and returns its client id.
func consoleAPIKey(t *testing.T, g *gateway, user, name, redirect string, scopes ...string) string {
	t.Helper()
	cc := signInConsole(t, g, "/admin", "default", user, userPassword)
	cc.get("/console/apps/new") // the form's CSRF token
	status, created := cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {name},
		"scopes": scopes, "redirect_uri": {redirect}, "implicit_grant": {"on"}})
	if status != http.StatusCreated {
		t.Fatalf("adding the API key in the console: %d", status)
	}
	return inputValue(t, created, "client_id")
}
