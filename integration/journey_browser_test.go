package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// One connected journey in a real browser, on the Imagen gateway: an admin
// signs in to the console and adds a "user" application with two scopes and
// the out-of-band redirect, and copies its client id and secret from the page
// that shows them once; a user, in another tab, opens Imagen's documented
// authorize URL for that client, signs in, approves the scopes and reads the
// token from the out-of-band page; the token calls a guarded route through
// Caddy as that user, and the copied secret lets the application introspect
// it; the admin disables the application in the console (through its confirm
// page) and the same token now gets 401 invalid_token.
func TestBrowserJourney(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		createUser(t, g, admin, map[string]any{"username": "ops", "display_name": "Ops Admin", "admin": true, "password": userPassword})
		userID := createUser(t, g, admin, map[string]any{"username": "ada", "display_name": "Ada Lovelace", "password": userPassword})
		console := g.URL + "/admin/"
		adminTab := chrome(t)

		// The admin adds the application.
		step(t, adminTab, "open the console", chromedp.Navigate(console), chromedp.WaitVisible(chromedp.ID("username")))
		step(t, adminTab, "admin signs in",
			chromedp.SendKeys(chromedp.ID("username"), "ops"),
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/console/apps/new"]`)))
		step(t, adminTab, "open Add application",
			chromedp.Click(chromedp.CSS(`a[href="/admin/console/apps/new"]`)),
			chromedp.WaitVisible(chromedp.ID("name")))
		step(t, adminTab, "fill in and add",
			chromedp.Click(chromedp.CSS(`input[name=auth_method][value=user]`)),
			chromedp.SendKeys(chromedp.ID("name"), "Desktop Importer"),
			chromedp.Click(chromedp.CSS(`input[name=scopes][value="readUsersData"]`)),
			chromedp.Click(chromedp.CSS(`input[name=scopes][value="modifyUsersData"]`)),
			chromedp.SendKeys(chromedp.ID("redirect_uri"), "urn:ietf:wg:oauth:2.0:oob"),
			chromedp.Click(chromedp.ID("add-app")),
			chromedp.WaitVisible(chromedp.ID("client_secret")))
		screenshot(t, adminTab, "1-secret")
		clientID := read(t, adminTab, "client id", chromedp.Value(chromedp.ID("client_id")))
		clientSecret := read(t, adminTab, "client secret", chromedp.Value(chromedp.ID("client_secret")))
		if clientID == "" || len(clientSecret) < 43 {
			t.Fatalf("the secret page shows id %q and a secret of %d characters", clientID, len(clientSecret))
		}

		// The user authorizes it in another tab, exactly as Imagen documents.
		userTab, closeTab := chromedp.NewContext(adminTab)
		defer closeTab()
		// The first action opens the tab; a timeout on it would close the tab
		// when the step ends.
		if err := chromedp.Do(userTab); err != nil {
			t.Fatalf("opening a second tab: %v", err)
		}
		documented := g.URL + "/oauth/authorize?response_type=token&client_id=" + clientID +
			"&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=readUsersData modifyUsersData"
		step(t, userTab, "open the documented URL", chromedp.Navigate(documented), chromedp.WaitVisible(chromedp.ID("username")))
		step(t, userTab, "user signs in",
			chromedp.SendKeys(chromedp.ID("username"), "ada"),
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("approve")))
		if scopes := read(t, userTab, "consent scopes", chromedp.Text(chromedp.ID("scopes"))); !strings.Contains(scopes, "readUsersData") || !strings.Contains(scopes, "modifyUsersData") {
			t.Fatalf("the consent page lists %q", scopes)
		}
		screenshot(t, userTab, "2-consent")
		step(t, userTab, "approve", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("token")))
		screenshot(t, userTab, "3-token")
		tok := read(t, userTab, "token", chromedp.Value(chromedp.ID("token")))
		if state := read(t, userTab, "state", chromedp.Text(chromedp.ID("state"))); state != "1" || tok == "" {
			t.Fatalf("the out-of-band page shows state %q and a token of %d characters", state, len(tok))
		}

		// The token calls a guarded route through Caddy as the user; the
		// application's copied secret introspects it.
		if status, body, _ := call(t, "GET", g.URL+"/api/records", tok, nil); status != http.StatusOK || body["user_id"] != userID || body["client_id"] != clientID {
			t.Fatalf("guarded call with the browser's token: %d %v", status, body)
		}
		if status, info := basicForm(t, g, "/oauth/introspect", clientID, clientSecret, url.Values{"token": {tok}}); status != http.StatusOK || info["active"] != true || info["sub"] != userID {
			t.Fatalf("introspection with the copied secret: %d %v", status, info)
		}

		// The admin disables the application; the same token is refused.
		step(t, adminTab, "open the app", chromedp.Navigate(console+"console/apps/"+url.PathEscape(clientID)), chromedp.WaitVisible(chromedp.ID("status")))
		step(t, adminTab, "disable", chromedp.Click(chromedp.CSS(`a[href$="/disable"]`)), chromedp.WaitVisible(chromedp.ID("confirm")))
		step(t, adminTab, "confirm", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.CSS(`a[href$="/restore"]`)))
		screenshot(t, adminTab, "4-disabled")
		if st := read(t, adminTab, "status", chromedp.Text(chromedp.ID("status"))); st != "disabled" {
			t.Fatalf("status after disable %q", st)
		}
		status, body, h := call(t, "GET", g.URL+"/api/records", tok, nil)
		if status != http.StatusUnauthorized || challenge(h) != "invalid_token" || !strings.Contains(body["error_description"].(string), "disabled") {
			t.Fatalf("the disabled application's token: %d %v %v", status, h, body)
		}
	})
}
