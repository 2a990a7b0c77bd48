package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// viewport is a browser width the console must work at.
type viewport struct {
	name          string
	width, height int64
	opts          []chromedp.EmulateViewportOption
}

var consoleViewports = []viewport{
	{"desktop", 1280, 800, nil},
	{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)}},
}

// What an admin sees in the console, in Chromium at desktop and at phone
// width, on the quickstart gateway: the Add application form shows the
// admin scopes apart ("Admin access") and only to admins who hold them (a
// super admin sees scopegate.admin and scopegate.tenant_admin, a tenant
// admin only scopegate.tenant_admin); the apps list and the audit log name
// the owner and the actor (a client here) instead of showing its id, which
// is the name's title; disable, restore, rotate and delete each end on a
// page saying what happened; the current section is marked in the
// navigation in bold; and no page is wider than the phone's screen.
// SQLite only: the console's HTTP tests run on both databases, and this
// checks what the browser shows.
func TestConsoleBrowserViews(t *testing.T) {
	g := startGateway(t, "quickstart.Caddyfile", "sqlite")
	adminTok := bootstrapAdmin(t, g, "/oauth2/token")
	// The apps are made by a named key, so their owner and the audit's
	// actor is a client with a name.
	keyID, keySecret := createClient(t, g, adminTok, map[string]any{"name": "Provisioning key", "scopes": []string{"scopegate.admin"}})
	status, body := tokenBasic(t, g, "/oauth2/token", keyID, keySecret, url.Values{"scope": {"scopegate.admin"}})
	keyTok, _ := body["access_token"].(string)
	if status != http.StatusOK || keyTok == "" {
		t.Fatalf("the key's token: %d %v", status, body)
	}
	acme := createTenant(t, g, adminTok, "acme")
	createUser(t, g, adminTok, map[string]any{"username": "root", "admin": true, "super_admin": true, "password": userPassword})
	createUser(t, g, adminTok, map[string]any{"username": "boss", "tenant_id": acme, "admin": true, "password": userPassword})
	ctx := chrome(t)
	console := g.URL + "/admin/"

	signIn := func(tenant, username string) {
		t.Helper()
		step(t, ctx, "sign in as "+username,
			chromedp.Navigate(console), chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SetValue(chromedp.ID("tenant"), tenant),
			chromedp.SendKeys(chromedp.ID("username"), username),
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/console/apps/new"]`)))
	}
	signOut := func() {
		t.Helper()
		step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("username")))
	}
	// fits fails when the page is wider than the window: at phone width
	// that is a page to scroll sideways.
	fits := func(vp viewport, page string) {
		t.Helper()
		if over := read(t, ctx, "page width", chromedp.Evaluate[int](
			`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); over > 0 {
			t.Fatalf("%s: %s is %d px wider than the window", vp.name, page, over)
		}
	}
	// current checks the navigation marks label, and only label, in bold.
	current := func(vp viewport, label string) {
		t.Helper()
		got := read(t, ctx, "current section", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('nav a')).
			filter(a => parseInt(getComputedStyle(a).fontWeight) >= 700).map(a => a.textContent + ' ' + a.getAttribute('aria-current'))`))
		if len(got) != 1 || got[0] != label+" page" {
			t.Fatalf("%s: bold navigation links %q, want %q marked current", vp.name, got, label)
		}
	}

	signIn("default", "root")
	for _, vp := range consoleViewports {
		step(t, ctx, "resize to "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, vp.opts...))
		name := "Reporter " + vp.name
		status, app, _ := call(t, "POST", g.URL+"/admin/clients", keyTok, map[string]any{"name": name, "scopes": []string{"demo.read"}})
		id, _ := app["client_id"].(string)
		if status != http.StatusCreated || id == "" {
			t.Fatalf("create %s: %d %v", name, status, app)
		}

		step(t, ctx, vp.name+": Add application", chromedp.Navigate(console+"console/apps/new"), chromedp.WaitVisible(chromedp.ID("admin-scopes")))
		apart := read(t, ctx, "scopes", chromedp.Evaluate[[]string](`[
			Array.from(document.querySelectorAll('#scopes input')).map(i => i.value).join(' '),
			Array.from(document.querySelectorAll('#admin-scopes input')).map(i => i.value).join(' '),
			document.querySelector('#admin-scopes legend').textContent]`))
		if apart[0] != "demo.read demo.write" || apart[1] != "scopegate.admin scopegate.tenant_admin scopegate.introspect" || apart[2] != "Admin access" {
			t.Fatalf("%s: API scopes %q, admin scopes %q under %q", vp.name, apart[0], apart[1], apart[2])
		}
		current(vp, "Custom apps")
		fits(vp, "Add application")

		step(t, ctx, vp.name+": apps", chromedp.Navigate(console+"console/apps"),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/console/apps/`+id+`"]`)))
		owner := read(t, ctx, "owner", chromedp.Evaluate[[]string](`(() => {
			const row = document.querySelector('a[href="/admin/console/apps/`+id+`"]').closest('tr');
			const cell = row.querySelector('td[data-label=Owner] span');
			return [cell.textContent, cell.title, cell.getBoundingClientRect().width > 0 ? 'shown' : 'hidden'];
		})()`))
		if owner[0] != "Provisioning key" || owner[1] != keyID || owner[2] != "shown" {
			t.Fatalf("%s: the owner column shows %q (title %q, %s), want the key's name with its id as title", vp.name, owner[0], owner[1], owner[2])
		}
		current(vp, "Custom apps")
		fits(vp, "apps")

		step(t, ctx, vp.name+": audit", chromedp.Navigate(console+"console/audit"), chromedp.WaitVisible(chromedp.CSS("table")))
		who := read(t, ctx, "who", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('tr')).
			find(r => r.textContent.includes('client.create') && r.textContent.includes('`+name+`')).
			querySelector('td[data-label=Who]').textContent`))
		if who != "Provisioning key" {
			t.Fatalf("%s: the audit log names the actor %q, want the key's name", vp.name, who)
		}
		current(vp, "Audit log")
		fits(vp, "audit log")

		for _, a := range []struct{ action, flash string }{
			{"disable", "The application was disabled"},
			{"restore", "The application was restored"},
			{"rotate", "The secret was rotated"},
			{"delete", "The application was deleted"},
		} {
			step(t, ctx, vp.name+": "+a.action,
				chromedp.Navigate(console+"console/apps/"+id), chromedp.WaitVisible(chromedp.ID("status")),
				chromedp.Click(chromedp.CSS(`a[href$="/`+id+`/`+a.action+`"]`)),
				chromedp.WaitVisible(chromedp.ID("confirm")),
				chromedp.Click(chromedp.ID("confirm")),
				chromedp.WaitVisible(chromedp.ID("flash")))
			if msg := read(t, ctx, "flash", chromedp.Text(chromedp.ID("flash"))); !strings.HasPrefix(msg, a.flash) {
				t.Fatalf("%s: after %s the page says %q, want %q", vp.name, a.action, msg, a.flash)
			}
			fits(vp, "the page after "+a.action)
		}

		step(t, ctx, vp.name+": users", chromedp.Navigate(console+"console/users"), chromedp.WaitVisible(chromedp.CSS("table")))
		current(vp, "Users")
		fits(vp, "users")
	}
	signOut()

	signIn(acme, "boss")
	for _, vp := range consoleViewports {
		step(t, ctx, "resize to "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, vp.opts...))
		step(t, ctx, vp.name+": Add application as a tenant admin", chromedp.Navigate(console+"console/apps/new"),
			chromedp.WaitVisible(chromedp.ID("admin-scopes")))
		offered := read(t, ctx, "admin scopes", chromedp.Evaluate[string](
			`Array.from(document.querySelectorAll('input[name=scopes]')).filter(i => i.value.startsWith('scopegate.')).map(i => i.closest('fieldset').id + ':' + i.value).join(' ')`))
		if offered != "admin-scopes:scopegate.tenant_admin admin-scopes:scopegate.introspect" {
			t.Fatalf("%s: a tenant admin is offered %q, want scopegate.tenant_admin and scopegate.introspect (its own tenant), apart, never scopegate.admin", vp.name, offered)
		}
		fits(vp, "Add application")
	}
	signOut()
}
