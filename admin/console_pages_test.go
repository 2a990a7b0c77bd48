package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// newEnvScopes is newEnv with extra scopes in the catalogue.
func newEnvScopes(t *testing.T, driver string, extra ...scope.Scope) *env {
	t.Helper()
	a := apptest.Open(t, driver, func(a *app.App) { a.Scopes = append(append([]scope.Scope{}, apptest.DemoScopes...), extra...) })
	h := new(Handler)
	h.setup(a, zaptest.NewLogger(t))
	e := &env{t: t, app: a, h: h}
	e.super, e.superID = e.adminToken(store.DefaultTenantID, scope.Admin)
	return e
}

// fieldset returns the HTML of the fieldset with the given id ("" if none).
func fieldset(body, id string) string {
	return regexp.MustCompile(`(?s)<fieldset id="` + regexp.QuoteMeta(id) + `".*?</fieldset>`).FindString(body)
}

// The Add application form shows the scopes that give admin power apart
// from the API's own, in an "Admin access" fieldset that says what each
// hands the application (scopegate.admin, scopegate.tenant_admin and a
// custom scope implying one): a super admin is offered all of them, a
// tenant admin only those its power covers (module/power), so never
// scopegate.admin nor what implies it. A ticked admin scope is sent with
// the others and the API stores it.
func TestConsoleAdminScopesApart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnvScopes(t, driver,
			scope.Scope{Name: "ops", Description: "Operations", Implies: []string{scope.TenantAdmin}},
			scope.Scope{Name: "root.ops", Description: "Everything", Implies: []string{scope.Admin}})
		e.superUser("root")
		e.tenant("acme")
		e.adminUser("acme", "boss")

		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.get("/console/apps/new"), http.StatusOK, "<legend>Admin access</legend>", "its API key is an admin credential")
		api, admin := fieldset(body, "scopes"), fieldset(body, "admin-scopes")
		for _, s := range []string{scope.Admin, scope.TenantAdmin, "ops", "root.ops"} {
			if strings.Contains(api, `value="`+s+`"`) || !strings.Contains(admin, `value="`+s+`"`) {
				t.Fatalf("%s is not apart under Admin access; scopes: %s\nadmin: %s", s, api, admin)
			}
		}
		for _, s := range []string{"demo.read", "demo.write", "global"} {
			if !strings.Contains(api, `value="`+s+`"`) || strings.Contains(admin, `value="`+s+`"`) {
				t.Fatalf("%s is not among the API's scopes", s)
			}
		}
		if !strings.Contains(admin, "Makes the application a super admin") || !strings.Contains(admin, "an admin of the tenant “Default”") {
			t.Fatalf("the admin scopes do not say what they grant: %s", admin)
		}

		w := b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Ops tool"}, "scopes": {"demo.read", scope.TenantAdmin}})
		body = b.page(w, http.StatusCreated)
		cl, err := e.app.Store().GetClient(context.Background(), regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1])
		if err != nil || strings.Join(cl.AllowedScopes, " ") != "demo.read "+scope.TenantAdmin {
			t.Fatalf("client with an admin scope ticked: %+v %v", cl, err)
		}

		boss := e.browser()
		boss.signIn("acme", "boss")
		body = boss.page(boss.get("/console/apps/new"), http.StatusOK)
		admin = fieldset(body, "admin-scopes")
		if !strings.Contains(admin, `value="`+scope.TenantAdmin+`"`) || !strings.Contains(admin, `value="ops"`) ||
			!strings.Contains(admin, "an admin of the tenant “acme”") {
			t.Fatalf("a tenant admin is not offered tenant_admin apart: %s", admin)
		}
		if strings.Contains(body, `value="`+scope.Admin+`"`) || strings.Contains(body, `value="root.ops"`) || strings.Contains(admin, "super admin") {
			t.Fatalf("a tenant admin is offered super admin power: %s", body)
		}
	})
}

// Names, not ids: the apps list and an app's page name its owner (a client
// here: one made with a client's token) and connect-as user, with the id in
// title= (and beside the name on the app's page); the audit log names who
// acted, through which client, and the client or user changed. A tenant
// admin sees only the names the API would show it: a super admin of
// another tenant stays an id.
func TestConsoleNamesNotIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root := e.superUser("root")
		e.tenant("acme")
		e.adminUser("acme", "boss")
		bob := e.user(store.DefaultTenantID, "bob")
		made := e.create(e.super, map[string]any{"name": "Made by a key", "scopes": []string{"demo.read"},
			"connect_as_user_id": bob.ID, "auth_method": "api_key"})
		superName := "admin-" + e.superID

		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.get("/console/apps"), http.StatusOK)
		row := regexp.MustCompile(`(?s)<tr>\s*<td data-label="Name"><a href="/console/apps/` + made.ClientID + `">.*?</tr>`).FindString(body)
		if !strings.Contains(row, `<td data-label="Owner"><span title="`+e.superID+`">`+superName+`</span></td>`) {
			t.Fatalf("the owner column does not name the owning client: %s", row)
		}
		body = b.page(b.get("/console/apps/"+made.ClientID), http.StatusOK)
		if !strings.Contains(body, `<td id="owner"><span title="`+e.superID+`">`+superName+`</span> <small class="mono">`+e.superID+`</small></td>`) ||
			!strings.Contains(body, `<td id="connect-as"><span title="`+bob.ID+`">bob</span>`) {
			t.Fatalf("the app page does not name its owner and connect-as user: %s", body)
		}

		// root changes acme's user through the console; the key disables its app.
		acmeUser := e.user("acme", "anna")
		b.post("/console/users/"+acmeUser.ID+"/disable", nil)
		e.want(e.do("POST", "/clients/"+made.ClientID+"/disable", e.super, nil), http.StatusOK)
		body = b.page(b.get("/console/audit"), http.StatusOK)
		disable := rowWith(body, "client.disable")
		if !strings.Contains(disable, `<td data-label="Who"><span title="`+e.superID+`">`+superName+`</span></td>`) ||
			!strings.Contains(disable, `<td data-label="Via"><span title="`+e.superID+`">`+superName+`</span></td>`) ||
			!strings.Contains(disable, `<td data-label="Target"><span title="`+made.ClientID+`">Made by a key</span></td>`) {
			t.Fatalf("the audit row of a key's change shows ids: %s", disable)
		}
		userRow := rowWith(body, "user.disable")
		if !strings.Contains(userRow, `<td data-label="Who"><span title="`+root.ID+`">root</span></td>`) ||
			!strings.Contains(userRow, `<td data-label="Via"><span class="mono">console</span></td>`) ||
			!strings.Contains(userRow, `<td data-label="Target"><span title="`+acmeUser.ID+`">anna</span></td>`) {
			t.Fatalf("the audit row of a console change shows ids: %s", userRow)
		}

		boss := e.browser()
		boss.signIn("acme", "boss")
		userRow = rowWith(boss.page(boss.get("/console/audit"), http.StatusOK), "user.disable")
		if !strings.Contains(userRow, `<td data-label="Who"><span class="mono">`+root.ID+`</span></td>`) || strings.Contains(userRow, ">root<") ||
			!strings.Contains(userRow, `<span title="`+acmeUser.ID+`">anna</span>`) {
			t.Fatalf("a tenant admin's audit row: %s", userRow)
		}
	})
}

// rowWith returns the first table row of body that contains s.
func rowWith(body, s string) string {
	for _, row := range strings.Split(body, "<tr>")[1:] {
		if row, _, _ = strings.Cut(row, "</tr>"); strings.Contains(row, s) {
			return row
		}
	}
	return ""
}

// After each confirmed action on an app the admin is told what happened:
// disable and restore land on the app's page with a notice, rotate's
// secret page says the secret was rotated, delete lands on the list saying
// the app was deleted.
func TestConsoleFlashAfterAppActions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Flashy"}, "scopes": {"demo.read"}}), http.StatusCreated)
		id := regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1]
		flash := regexp.MustCompile(`<p class="notice flash" role="status" id="flash">([^<]*)</p>`)
		follow := func(action, wantFlash string) {
			t.Helper()
			w := b.post("/console/apps/"+id+"/"+action, nil)
			if w.Code == http.StatusSeeOther {
				w = b.get(w.Header().Get("Location"))
			}
			m := flash.FindStringSubmatch(b.page(w, http.StatusOK))
			if m == nil || !strings.HasPrefix(m[1], wantFlash) {
				t.Fatalf("%s: notice %q, want %q", action, m, wantFlash)
			}
		}
		follow("disable", "The application was disabled")
		b.page(b.last, http.StatusOK, `<td id="status">disabled</td>`)
		follow("restore", "The application was restored")
		b.page(b.last, http.StatusOK, `<td id="status">active</td>`)
		follow("rotate", "The secret was rotated")
		b.page(b.last, http.StatusOK, `id="client_secret"`)
		follow("delete", "The application was deleted")
		// A page reached without a post says nothing.
		if flash.MatchString(b.page(b.get("/console/apps"), http.StatusOK)) {
			t.Fatal("a notice without an action")
		}
	})
}

// The users page offers Disable, Enable and Reset password only on users
// whose power the signed-in admin covers (the rule PATCH /users/{id}
// enforces): a tenant admin of the default tenant sees none on a super
// admin, and its reset form is a 403 page; a super admin sees them on
// everyone.
func TestConsoleUserButtonsFollowPower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root := e.superUser("root")
		ops := e.adminUser(store.DefaultTenantID, "ops")
		bob := e.user(store.DefaultTenantID, "bob")
		buttons := func(body string, u *store.User) bool {
			row := rowWith(body, `<td data-label="Username">`+u.Username+`</td>`)
			dis := strings.Contains(row, `action="/console/users/`+u.ID+`/disable"`)
			pw := strings.Contains(row, `href="/console/users/`+u.ID+`/password"`)
			if dis != pw {
				t.Fatalf("%s: disable %v but reset %v", u.Username, dis, pw)
			}
			return dis
		}

		b := e.browser()
		b.signIn("", "ops")
		body := b.page(b.get("/console/users"), http.StatusOK, "root", "bob")
		if buttons(body, root) || !buttons(body, bob) || !buttons(body, ops) {
			t.Fatalf("a tenant admin's buttons: root %v, bob %v, ops %v", buttons(body, root), buttons(body, bob), buttons(body, ops))
		}
		if !strings.Contains(rowWith(body, `>root</td>`), "Only a super admin may change this user.") {
			t.Fatal("no word on why root has no buttons")
		}
		b.page(b.get("/console/users/"+root.ID+"/password"), http.StatusForbidden, "Only a super admin")

		s := e.browser()
		s.signIn("", "root")
		body = s.page(s.get("/console/users"), http.StatusOK)
		if !buttons(body, root) || !buttons(body, bob) || !buttons(body, ops) {
			t.Fatal("a super admin lacks buttons")
		}
	})
}

// Smaller wording points of the console: the redirect URL's hint names the
// out-of-band URI installed applications use; the current section is
// marked in the navigation (aria-current) and the stylesheet makes the mark
// visible; a cross-site post is told plainly where it came from and that
// nothing changed, and is not told to try again.
func TestConsoleWording(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.get("/console/apps/new"), http.StatusOK, `aria-describedby="redirect_uri-hint"`)
		hint := regexp.MustCompile(`(?s)<p id="redirect_uri-hint">.*?</p>`).FindString(body)
		if !strings.Contains(hint, "urn:ietf:wg:oauth:2.0:oob") || !strings.Contains(hint, "Installed") {
			t.Fatalf("redirect hint %q", hint)
		}
		if !regexp.MustCompile(`\.bar a\[aria-current=page\]\{[^}]*font-weight:700`).MatchString(body) {
			t.Fatal("the stylesheet does not mark the current section")
		}
		for path, label := range map[string]string{"/console/apps": "Custom apps", "/console/integrations": "Integrations &amp; API access",
			"/console/users": "Users", "/console/audit": "Audit log", "/console/users/new": "Users"} {
			body := b.page(b.get(path), http.StatusOK)
			cur := regexp.MustCompile(`<a href="[^"]*" aria-current="page">([^<]*)</a>`).FindAllStringSubmatch(body, -1)
			if len(cur) != 1 || cur[0][1] != label {
				t.Fatalf("%s marks %v as current, want %s", path, cur, label)
			}
		}

		b.origin = "http://evil.example"
		msg := regexp.MustCompile(`id="message">([^<]*)<`).FindStringSubmatch(
			b.page(b.post("/console/users/new", url.Values{"username": {"x"}}), http.StatusForbidden))[1]
		if !strings.HasPrefix(msg, "This request came from another site") || !strings.Contains(msg, "nothing was changed") ||
			strings.Contains(msg, "try again") {
			t.Fatalf("cross-site refusal says %q", msg)
		}
	})
}

// The "Add application" form offers only what the signed-in admin may give,
// the rules POST /clients enforces: a tenant admin of the default tenant is
// not offered a super admin to connect as, nor the "Perform actions on
// behalf of users" box (letting a key of the default tenant name any user
// needs a super admin); a super admin is offered both; a tenant admin of
// another tenant gets the box for its own tenant's users.
func TestConsoleNewAppFollowsPower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root := e.superUser("root")
		e.adminUser(store.DefaultTenantID, "ops")
		bob := e.user(store.DefaultTenantID, "bob")
		e.tenant("acme")
		e.adminUser("acme", "acmeops")
		option := func(u *store.User) string { return `<option value="` + u.ID + `"` }
		const box = `name="allow_impersonation"`

		b := e.browser()
		b.signIn("", "ops")
		body := b.page(b.get("/console/apps/new"), http.StatusOK, option(bob))
		if strings.Contains(body, option(root)) || strings.Contains(body, box) {
			t.Fatalf("a tenant admin of the default tenant is offered root (%v) or impersonation (%v)",
				strings.Contains(body, option(root)), strings.Contains(body, box))
		}

		s := e.browser()
		s.signIn("", "root")
		body = s.page(s.get("/console/apps/new"), http.StatusOK, option(bob), option(root), box)

		a := e.browser()
		a.signIn("acme", "acmeops")
		a.page(a.get("/console/apps/new"), http.StatusOK, box)
	})
}
