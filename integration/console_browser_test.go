package integration

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/module/store"
)

// The admin console in a real browser, on the quickstart gateway: an admin
// user made through the JSON API signs in at /admin/, adds an api_key
// application with demo.read (after the form refused it without a scope,
// the message next to the scopes), copies the client id and secret from the
// page they are shown on once, gets a token with them at /oauth2/token
// that /api/hello accepts; the admin then disables the application in the
// browser (through its confirm page) and the same token is refused with
// 401. A page on another origin that auto-submits a console form is
// refused with 403 and changes nothing. An app offered to the tenant is
// allowed with a subset of its scopes and the pair works for that subset
// only. The main pages are screenshotted at
// desktop and phone width under integration/artifacts/.
func TestConsoleBrowserQuickstart(t *testing.T) {
	eachDriverWith(t, "quickstart.Caddyfile", func(t *testing.T, g *gateway) {
		adminTok := bootstrapAdmin(t, g, "/oauth2/token")
		createUser(t, g, adminTok, map[string]any{
			"username": "ops", "display_name": "Ops Admin", "admin": true, "password": userPassword,
		})
		createUser(t, g, adminTok, map[string]any{"username": "svc", "display_name": "Service user"})
		ctx := chrome(t)
		console := g.URL + "/admin/"

		step(t, ctx, "open the console", chromedp.Navigate(console), chromedp.WaitVisible(chromedp.ID("username")))
		screenshot(t, ctx, "signin")
		step(t, ctx, "wrong password",
			chromedp.SendKeys(chromedp.ID("username"), "ops"),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.CSS(`p.error`)))
		if msg := read(t, ctx, "sign-in error", chromedp.Text(chromedp.CSS(`p.error`))); !strings.Contains(msg, "Wrong tenant, username or password") {
			t.Fatalf("sign-in error %q", msg)
		}
		step(t, ctx, "sign in",
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/console/apps/new"]`)))
		screenshot(t, ctx, "apps")

		step(t, ctx, "open Add application",
			chromedp.Click(chromedp.CSS(`a[href="/admin/console/apps/new"]`)),
			chromedp.WaitVisible(chromedp.ID("name")))
		screenshot(t, ctx, "add-application")
		step(t, ctx, "submit without a scope",
			chromedp.SendKeys(chromedp.ID("name"), "Reporter"),
			chromedp.Click(chromedp.CSS(`input[name=auth_method][value=api_key]`)),
			chromedp.Click(chromedp.ID("add-app")),
			chromedp.WaitVisible(chromedp.ID("scopes-error")))
		if msg := read(t, ctx, "scopes error", chromedp.Text(chromedp.ID("scopes-error"))); msg != "must list at least one scope" {
			t.Fatalf("scopes error %q", msg)
		}
		if inside := read(t, ctx, "error placement", chromedp.Evaluate[bool](
			`document.querySelector('fieldset#scopes #scopes-error') !== null && document.getElementById('name').value === 'Reporter'`)); !inside {
			t.Fatal("the scopes error is not next to the scopes, or the name was lost")
		}
		screenshot(t, ctx, "add-application-error")
		step(t, ctx, "add the application",
			chromedp.Click(chromedp.CSS(`input[name=scopes][value="demo.read"]`)),
			chromedp.Click(chromedp.ID("add-app")),
			chromedp.WaitVisible(chromedp.ID("client_secret")))
		screenshot(t, ctx, "secret")
		id := read(t, ctx, "client id", chromedp.Value(chromedp.ID("client_id")))
		secret := read(t, ctx, "client secret", chromedp.Value(chromedp.ID("client_secret")))
		if ro := read(t, ctx, "readonly", chromedp.Evaluate[bool](`document.getElementById('client_secret').readOnly`)); !ro || id == "" || len(secret) < 20 {
			t.Fatalf("secret page: id %q, secret of %d characters, readonly %v", id, len(secret), ro)
		}

		status, body := tokenBasic(t, g, "/oauth2/token", id, secret, url.Values{"scope": {"demo.read"}})
		tok, _ := body["access_token"].(string)
		if status != http.StatusOK || tok == "" {
			t.Fatalf("token with the copied credentials: %d %v", status, body)
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/hello", tok, nil); status != http.StatusOK || body["client_id"] != id {
			t.Fatalf("/api/hello with the token: %d %v", status, body)
		}

		step(t, ctx, "open the app", chromedp.Navigate(console+"console/apps/"+url.PathEscape(id)), chromedp.WaitVisible(chromedp.ID("status")))
		screenshot(t, ctx, "app-detail")
		step(t, ctx, "disable, with confirm",
			chromedp.Click(chromedp.CSS(`a[href$="/disable"]`)),
			chromedp.WaitVisible(chromedp.ID("confirm")))
		screenshot(t, ctx, "confirm-disable")
		step(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.CSS(`a[href$="/restore"]`)))
		if st := read(t, ctx, "status", chromedp.Text(chromedp.ID("status"))); st != "disabled" {
			t.Fatalf("status after disable %q", st)
		}
		if status, _, h := call(t, "GET", g.URL+"/api/hello", tok, nil); status != http.StatusUnauthorized {
			t.Fatalf("/api/hello with a disabled app's token: %d %v", status, h)
		}

		// Cross-site: another origin's page posts a console form (restore)
		// with the browser's cookie; it cannot know the CSRF token, and its
		// Origin is not the gateway's.
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><body><form method="post" action="%s"><input name="csrf" value="guess"></form>`+
				`<script>document.forms[0].submit()</script></body>`, html.EscapeString(console+"console/apps/"+url.PathEscape(id)+"/restore"))
		}))
		defer attacker.Close()
		step(t, ctx, "cross-origin post", chromedp.Navigate(attacker.URL), chromedp.WaitVisible(chromedp.ID("message")))
		if msg := read(t, ctx, "refusal", chromedp.Text(chromedp.ID("message"))); !strings.Contains(msg, "another site") {
			t.Fatalf("cross-origin post answered %q", msg)
		}
		if status, out, _ := call(t, "GET", g.URL+"/admin/clients/"+url.PathEscape(id), adminTok, nil); status != http.StatusOK || out["status"] != "disabled" {
			t.Fatalf("after the cross-origin post: %d %v", status, out)
		}

		// Tenant integrations: an app a developer offers to this tenant is
		// reviewed, allowed with a subset of its scopes, and the pair shown
		// once works at the token endpoint for the allowed scope only.
		status, appOut, _ := call(t, "POST", g.URL+"/admin/apps", adminTok, map[string]any{
			"name": "Insights", "description": "Dashboards of demo data", "scopes": []string{"demo.read", "demo.write"},
			"tenant_ids": []string{"default"}, "redirect_uris": []string{"https://insights.example/cb"},
		})
		appID, _ := appOut["id"].(string)
		if status != http.StatusCreated || appID == "" {
			t.Fatalf("create developer app: %d %v", status, appOut)
		}
		// As the document says: the tab, then Connect New App, then the app.
		step(t, ctx, "open integrations", chromedp.Navigate(console+"console/integrations"),
			chromedp.WaitVisible(chromedp.ID("connect-new-app")))
		screenshot(t, ctx, "integrations")
		step(t, ctx, "connect new app", chromedp.Click(chromedp.ID("connect-new-app")),
			chromedp.WaitVisible(chromedp.CSS(`#connect a[href$="/console/integrations/`+appID+`"]`)))
		step(t, ctx, "review the app", chromedp.Click(chromedp.CSS(`#connect a[href$="/console/integrations/`+appID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`input[name=scopes][value="demo.write"]`)))
		if txt := read(t, ctx, "requested scopes", chromedp.Text(chromedp.ID("scopes"))); !strings.Contains(txt, "Change demo data") {
			t.Fatalf("requested scopes lack their descriptions: %q", txt)
		}
		// The reviewer sees who offers the app and where it sends users.
		if txt := read(t, ctx, "offered by", chromedp.Text(chromedp.ID("offered-by"))); !strings.Contains(txt, "tenant default") ||
			!strings.Contains(txt, "https://insights.example/cb") {
			t.Fatalf("the review does not say who offers the app: %q", txt)
		}
		screenshot(t, ctx, "integration-review")
		step(t, ctx, "allow demo.read only",
			chromedp.Click(chromedp.CSS(`input[name=scopes][value="demo.write"]`)),
			chromedp.Click(chromedp.CSS(`form[action$="/allow"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.ID("client_secret")))
		screenshot(t, ctx, "integration-pair")
		pairID := read(t, ctx, "pair id", chromedp.Value(chromedp.ID("client_id")))
		pairSecret := read(t, ctx, "pair secret", chromedp.Value(chromedp.ID("client_secret")))
		if status, body := tokenBasic(t, g, "/oauth2/token", pairID, pairSecret, url.Values{"scope": {"demo.read"}}); status != http.StatusOK {
			t.Fatalf("token for the allowed scope: %d %v", status, body)
		}
		if status, body := tokenBasic(t, g, "/oauth2/token", pairID, pairSecret, url.Values{"scope": {"demo.write"}}); status == http.StatusOK {
			t.Fatalf("token for a scope the admin did not allow: %v", body)
		}
		// "From Manage API Application Access, select the app … Click
		// Disable > Confirm and Continue": the pair is refused tokens.
		step(t, ctx, "select the connected app", chromedp.Navigate(console+"console/integrations"),
			chromedp.Click(chromedp.CSS(`a[href$="/console/integrations/`+appID+`"]`)), chromedp.WaitVisible(chromedp.ID("disable")))
		step(t, ctx, "disable, confirm and continue", chromedp.Click(chromedp.ID("disable")), chromedp.WaitVisible(chromedp.ID("confirm")),
			chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("flash")))
		if status, body := tokenBasic(t, g, "/oauth2/token", pairID, pairSecret, url.Values{"scope": {"demo.read"}}); status == http.StatusOK {
			t.Fatalf("token for a disabled pair: %v", body)
		}

		for _, p := range []struct{ path, name, ready string }{
			{"console/users", "users", "table"},
			{"console/users/new", "add-user", "#username"},
			{"console/audit", "audit", "table"},
		} {
			step(t, ctx, "open "+p.name, chromedp.Navigate(console+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready)))
			screenshot(t, ctx, p.name)
		}
		if txt := read(t, ctx, "audit", chromedp.Text(chromedp.CSS("table"))); !strings.Contains(txt, "client.disable") || !strings.Contains(txt, "client.create") {
			t.Fatalf("audit page lacks the console's changes: %q", txt)
		}

		step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("username")))
		step(t, ctx, "apps after sign-out", chromedp.Navigate(console+"console/apps"), chromedp.WaitVisible(chromedp.ID("username")))
	})
}

// The console's session cookie never reaches an upstream, even with the
// console mounted at the site's root: a real browser signed in to the
// console (on a variant of the quickstart with `handle /console/* {
// scopegate_admin }`) then opens the unguarded /public/x, and the upstream
// gets no scopegate_console_session cookie (its Path is /console/, where it used to
// be /, so a replayed copy would open the console as that admin).
func TestConsoleCookieStaysWithTheConsole(t *testing.T) {
	path := caddyfileVariant(t, "quickstart.Caddyfile", "", "\thandle /console/* {\n\t\tscopegate_admin\n\t}\n")
	g := startGateway(t, path, store.SQLite)
	adminTok := bootstrapAdmin(t, g, "/oauth2/token")
	createUser(t, g, adminTok, map[string]any{"username": "ops", "admin": true, "password": userPassword})
	ctx := chrome(t)
	step(t, ctx, "sign in at the root console",
		chromedp.Navigate(g.URL+"/console/signin"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "ops"),
		chromedp.SendKeys(chromedp.ID("password"), userPassword),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/apps/new"]`)))
	_, before := g.Upstream.Last()
	step(t, ctx, "open an upstream page", chromedp.Navigate(g.URL+"/public/x"), chromedp.WaitReady("body"))
	seen, after := g.Upstream.Last()
	if after == before {
		t.Fatal("the browser's request never reached the upstream")
	}
	if c := seen.Get("Cookie"); strings.Contains(c, "scopegate") {
		t.Fatalf("the upstream received the console's cookies: %q", c)
	}
	step(t, ctx, "still signed in", chromedp.Navigate(g.URL+"/console/apps"), chromedp.WaitVisible(chromedp.CSS(`a[href="/console/apps/new"]`)))
}
