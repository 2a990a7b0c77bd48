package admin

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

func init() { web.PasswordCost = 4 } // the minimum: tests check behaviour, not cost

// consolePassword is every console test admin's password.
const consolePassword = "correct horse battery"

// browser is one browser session against the console: it keeps the
// session cookie, the sign-in form's CSRF cookie and the page's CSRF token,
// as a browser would.
type browser struct {
	e          *env
	cookie     *http.Cookie
	signInCSRF *http.Cookie
	csrf       string
	origin     string // Origin header of posts ("" sends none)
	last       *httptest.ResponseRecorder
}

func (e *env) browser() *browser { return &browser{e: e, origin: "http://example.com"} }

// adminUser creates an admin user with the console password in tenant.
func (e *env) adminUser(tenant, username string) *store.User {
	e.t.Helper()
	hash, err := web.HashPassword(consolePassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &store.User{ID: store.NewID(), TenantID: tenant, Username: username, Admin: true, PasswordHash: hash}
	if err := e.app.Store().CreateUser(context.Background(), u, store.Actor{Principal: "test"}); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// superUser creates a super admin user of the default tenant with the
// console password.
func (e *env) superUser(username string) *store.User {
	e.t.Helper()
	u := e.adminUser(store.DefaultTenantID, username)
	u.SuperAdmin = true
	if err := e.app.Store().UpdateUser(context.Background(), u, store.Actor{Principal: "test"}, "user.update"); err != nil {
		e.t.Fatal(err)
	}
	return u
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) send(r *http.Request) *httptest.ResponseRecorder {
	b.e.t.Helper()
	for _, c := range []*http.Cookie{b.cookie, b.signInCSRF} {
		if c != nil {
			r.AddCookie(c)
		}
	}
	w := b.e.serve(r)
	for _, c := range w.Result().Cookies() {
		var slot **http.Cookie
		switch c.Name {
		case ConsoleCookie:
			slot = &b.cookie
		case ConsoleCSRFCookie:
			slot = &b.signInCSRF
		default:
			continue
		}
		if c.MaxAge < 0 {
			*slot = nil
		} else {
			*slot = c
		}
	}
	if m := csrfField.FindStringSubmatch(w.Body.String()); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	b.last = w
	return w
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	b.e.t.Helper()
	w := b.send(httptest.NewRequest("GET", path, nil))
	if path == "/" && w.Code == http.StatusSeeOther && w.Header().Get("Location") == signInPath {
		// The console's address leads to the sign-in form, as a
		// browser follows it.
		return b.get(signInPath)
	}
	return w
}

// post submits a form with the page's CSRF token (unless form sets csrf).
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") && b.csrf != "" {
		form.Set("csrf", b.csrf)
	}
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.origin != "" {
		r.Header.Set("Origin", b.origin)
	}
	return b.send(r)
}

// signIn signs in as username of tenant and fails the test otherwise.
func (b *browser) signIn(tenant, username string) {
	b.e.t.Helper()
	b.get("/")
	w := b.post("/console/signin", url.Values{"tenant": {tenant}, "username": {username}, "password": {consolePassword}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/apps" || b.cookie == nil {
		b.e.t.Fatalf("sign-in: %d %v; body %s", w.Code, w.Header(), w.Body.String())
	}
	b.get("/console/apps")
}

// page fails unless the last answer has status and contains every text.
func (b *browser) page(w *httptest.ResponseRecorder, status int, texts ...string) string {
	b.e.t.Helper()
	body := w.Body.String()
	if w.Code != status {
		b.e.t.Fatalf("status %d, want %d; body: %s", w.Code, status, body)
	}
	for _, s := range texts {
		if !strings.Contains(body, s) {
			b.e.t.Fatalf("page lacks %q; body: %s", s, body)
		}
	}
	return body
}

// fieldErrorOf returns the error message shown under a form field.
func fieldErrorOf(body, field string) string {
	m := regexp.MustCompile(`<p class="error" id="` + regexp.QuoteMeta(field) + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// Sign-in: the root shows the sign-in form without a session; a wrong
// password, an unknown user, a non-admin and a disabled admin are refused
// with the same message; the right password starts a session in an
// HttpOnly, SameSite=Lax cookie named scopegate_console_session and lands on the
// apps page; signing out (a POST with the CSRF token) ends it; pages
// without a session redirect to the sign-in form. Requests with a bearer
// token still reach the JSON API.
func TestConsoleSignInOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		plain := e.user(store.DefaultTenantID, "plain")
		hash, _ := web.HashPassword(consolePassword)
		if err := e.app.Store().SetUserPassword(context.Background(), plain.ID, plain.TenantID, hash, store.Actor{Principal: "test"}); err != nil {
			t.Fatal(err)
		}
		off := e.adminUser(store.DefaultTenantID, "gone")
		off.Disabled = true
		if err := e.app.Store().UpdateUser(context.Background(), off, store.Actor{Principal: "test"}, "user.disable"); err != nil {
			t.Fatal(err)
		}

		b := e.browser()
		b.page(b.get("/"), http.StatusOK, `<label for="username">Username</label>`, `<label for="password">Password</label>`)
		if w := b.get("/console/apps"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != signInPath {
			t.Fatalf("apps without a session: %d %v", w.Code, w.Header())
		}
		for _, try := range []url.Values{
			{"username": {"root"}, "password": {"wrong password!"}},
			{"username": {"nobody"}, "password": {consolePassword}},
			{"username": {"plain"}, "password": {consolePassword}},
			{"username": {"gone"}, "password": {consolePassword}},
			{"tenant": {"elsewhere"}, "username": {"root"}, "password": {consolePassword}},
		} {
			w := b.post("/console/signin", try)
			b.page(w, http.StatusUnauthorized, "Wrong tenant, username or password")
			if b.cookie != nil {
				t.Fatalf("%v got a session", try)
			}
		}

		b.signIn("", "root")
		c := b.cookie
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/console/" || c.Secure {
			t.Fatalf("cookie %+v", c)
		}
		b.page(b.last, http.StatusOK, "Custom apps", "Sign out", "root")
		// the JSON API is unchanged for bearer requests
		e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK)
		if w := e.do("GET", "/clients", "", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("API without a token: %d", w.Code)
		}

		w := b.post("/console/signout", nil)
		if w.Code != http.StatusSeeOther || b.cookie != nil {
			t.Fatalf("sign-out: %d, cookie %v", w.Code, b.cookie)
		}
		if w := b.get("/console/users"); w.Code != http.StatusSeeOther {
			t.Fatalf("after sign-out: %d", w.Code)
		}
	})
}

// Sign-out ends the session on the server: a copy of the session cookie
// taken before signing out (a stolen cookie, another tab's) gets the
// sign-in page afterwards and its posts are refused, though the cookie is
// still sealed and unexpired; the same admin's other session lives on.
func TestConsoleSignOutEndsSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b, other := e.browser(), e.browser()
		b.signIn("", "root")
		other.signIn("", "root")
		thief := e.browser()
		thief.cookie, thief.csrf = b.cookie, b.csrf
		thief.page(thief.get("/console/apps"), http.StatusOK, "Custom apps")

		if w := b.post("/console/signout", nil); w.Code != http.StatusSeeOther || b.cookie != nil {
			t.Fatalf("sign-out: %d, cookie %v", w.Code, b.cookie)
		}
		if w := thief.get("/console/apps"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != signInPath {
			t.Fatalf("the copied cookie after sign-out: %d %v", w.Code, w.Header())
		}
		thief.page(thief.post("/console/users/new", url.Values{"username": {"planted"}, "password": {consolePassword}}), http.StatusForbidden)
		if _, err := e.app.Store().FindUser(context.Background(), store.DefaultTenantID, "planted"); err == nil {
			t.Fatal("a post with the signed-out cookie created a user")
		}
		other.page(other.get("/console/apps"), http.StatusOK, "Custom apps")
	})
}

// Throttle: after five failed sign-ins for one username further attempts
// are refused with 429, a Retry-After and a clear message, even with the
// right password; another username is not affected.
func TestConsoleThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		e.adminUser(store.DefaultTenantID, "other")
		b := e.browser()
		b.get("/") // the sign-in page, with its CSRF token
		for range 5 {
			b.page(b.post("/console/signin", url.Values{"username": {"root"}, "password": {"not the password"}}), http.StatusUnauthorized)
		}
		w := b.post("/console/signin", url.Values{"username": {"root"}, "password": {consolePassword}})
		b.page(w, http.StatusTooManyRequests, "Too many failed sign-ins. Wait")
		if w.Header().Get("Retry-After") == "" || b.cookie != nil {
			t.Fatalf("throttled: Retry-After %q, cookie %v", w.Header().Get("Retry-After"), b.cookie)
		}
		b.signIn("", "other")
	})
}

// CSRF: a post from another origin, with a wrong token or with no token is
// refused with a 403 page and changes nothing; a sign-in from another
// origin is refused too.
func TestConsoleCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b := e.browser()
		b.signIn("", "root")
		form := func() url.Values {
			return url.Values{"auth_method": {"api_key"}, "name": {"evil"}, "scopes": {"demo.read"}}
		}
		b.origin = "http://evil.example"
		b.page(b.post("/console/apps/new", form()), http.StatusForbidden, "another site")
		b.origin = "http://example.com"
		f := form()
		f.Set("csrf", "wrong")
		b.page(b.post("/console/apps/new", f), http.StatusForbidden, "another site")
		r := httptest.NewRequest("POST", "/console/apps/new", strings.NewReader(form().Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(b.cookie)
		if w := e.serve(r); w.Code != http.StatusForbidden {
			t.Fatalf("no token: %d", w.Code)
		}
		l := decode[list[clientView]](t, e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK))
		for _, c := range l.Items {
			if c.Name == "evil" {
				t.Fatal("a refused post created a client")
			}
		}
		other := e.browser()
		other.origin = "http://evil.example"
		other.page(other.post("/console/signin", url.Values{"username": {"root"}, "password": {consolePassword}}), http.StatusForbidden)
		if other.cookie != nil {
			t.Fatal("a cross-site sign-in got a session")
		}
	})
}

// The sign-in form carries its own CSRF token in a hidden field, matched
// against a sealed HttpOnly cookie of its own: a sign-in post without the
// token, with a wrong one, without the cookie, or with neither Origin nor
// Referer is refused with 403 and starts no session, even with the right
// password; the page's token and cookie sign in.
func TestConsoleSignInCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b := e.browser()
		b.page(b.get("/"), http.StatusOK, `name="csrf"`)
		token, ck := b.csrf, b.signInCSRF
		if token == "" || ck == nil || !ck.HttpOnly || ck.Path != "/console/" || strings.Contains(ck.Value, token) {
			t.Fatalf("sign-in token %q, cookie %+v", token, ck)
		}
		creds := func(csrf string) url.Values {
			return url.Values{"username": {"root"}, "password": {consolePassword}, "csrf": {csrf}}
		}
		b.page(b.post("/console/signin", creds("")), http.StatusForbidden, "another site")
		b.page(b.post("/console/signin", creds("forged")), http.StatusForbidden, "another site")
		b.signInCSRF = nil
		b.page(b.post("/console/signin", creds(token)), http.StatusForbidden, "another site")
		b.signInCSRF = ck
		b.origin = ""
		b.page(b.post("/console/signin", creds(token)), http.StatusForbidden, "another site")
		if b.cookie != nil {
			t.Fatal("a refused sign-in started a session")
		}
		b.origin = "http://example.com"
		if w := b.post("/console/signin", creds(token)); w.Code != http.StatusSeeOther || b.cookie == nil {
			t.Fatalf("sign-in with the page's token: %d, session %v", w.Code, b.cookie)
		}
	})
}

// Apps: the add form lists the catalogue's scopes with descriptions and the
// tenant's users; submitting without a scope, without a name and with a
// bad duration shows each message next to its field and keeps the input;
// the implicit grant box is ticked by default (the API's default), keeps an
// unticked state on a failed post, and unticked makes a client without the
// implicit grant;
// a valid api_key app is created (through POST /clients: owner is the
// admin user, settings as submitted) and its secret shown once, which then
// works at the token endpoint's check; the list shows it; the owner can
// reveal the secret; rotate, disable, restore and delete go through
// confirm pages and take effect.
func TestConsoleApps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root := e.superUser("root")
		bob := e.user(store.DefaultTenantID, "bob")
		b := e.browser()
		b.signIn("", "root")

		b.page(b.get("/console/apps/new"), http.StatusOK, "Standard OAuth 2.0 (User Authentication)",
			"OAuth 2.0 with API Key (Server Authentication)", `value="demo.read"`, "Perform actions on behalf of users",
			"Selecting this option will allow the Application to perform actions as any user", `<option value="`+bob.ID+`"`,
			`<label for="max_minutes_per_day">Maximum duration per day (minutes)</label>`,
			`<input type="checkbox" name="implicit_grant" id="implicit_grant" checked> <span>Allow the implicit grant</span>`)

		w := b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Reporter"}, "token_lifetime_minutes": {"ten"}})
		body := b.page(w, http.StatusBadRequest, "Fix the fields marked below", `value="Reporter"`)
		if got := fieldErrorOf(body, "scopes"); got != "must list at least one scope" {
			t.Fatalf("scopes error %q", got)
		}
		if got := fieldErrorOf(body, "token_lifetime_minutes"); got == "" {
			t.Fatal("no error next to the duration")
		}
		if !strings.Contains(body, `id="implicit_grant">`) {
			t.Fatal("the implicit grant box, left unticked, came back ticked")
		}
		// A form refused for a number the page could not read makes nothing,
		// though the rest is valid (it made the client without the number).
		w = b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Half"}, "scopes": {"demo.read"},
			"token_lifetime_minutes": {"15m"}, "max_minutes_per_day": {"1e3"}})
		body = b.page(w, http.StatusBadRequest, "Fix the fields marked below", `value="Half"`)
		if fieldErrorOf(body, "token_lifetime_minutes") == "" || fieldErrorOf(body, "max_minutes_per_day") == "" {
			t.Fatalf("errors: duration %q, per day %q", fieldErrorOf(body, "token_lifetime_minutes"), fieldErrorOf(body, "max_minutes_per_day"))
		}
		if cl, err := e.app.Store().FindClientByName(context.Background(), store.DefaultTenantID, "Half"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused form made client %+v (%v)", cl, err)
		}
		w = b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "scopes": {"demo.read"}, "max_minutes_per_day": {"-1"}})
		body = b.page(w, http.StatusBadRequest)
		if fieldErrorOf(body, "name") != "is required" || !strings.Contains(fieldErrorOf(body, "max_minutes_per_day"), "from 0") {
			t.Fatalf("name %q, per day %q", fieldErrorOf(body, "name"), fieldErrorOf(body, "max_minutes_per_day"))
		}
		if !strings.Contains(body, `value="demo.read" checked`) {
			t.Fatal("the checked scope was not kept")
		}

		w = b.post("/console/apps/new", url.Values{
			"auth_method": {"api_key"}, "name": {"Reporter"}, "scopes": {"demo.read", "demo.write"},
			"connect_as_user_id": {bob.ID}, "allow_impersonation": {"on"}, "redirect_uri": {"https://reporter.example/cb"},
			"token_lifetime_minutes": {"30"}, "max_minutes_per_day": {"600"}, "implicit_grant": {"on"},
		})
		body = b.page(w, http.StatusCreated, "Copy the secret now")
		id := regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1]
		sec := regexp.MustCompile(`id="client_secret" value="([^"]+)"`).FindStringSubmatch(body)[1]
		cl, err := e.app.Store().GetClient(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cl.OwnerID != root.ID || cl.Name != "Reporter" || cl.AuthMethod != store.AuthAPIKey || len(cl.AllowedScopes) != 2 ||
			cl.ConnectAsUserID == nil || *cl.ConnectAsUserID != bob.ID || !cl.AllowImpersonation ||
			cl.TokenLifetimeMinutes != 30 || cl.MaxMinutesPerDay != 600 || len(cl.RedirectURIs) != 1 || cl.DisableImplicit {
			t.Fatalf("stored client %+v", cl)
		}
		// Unticking the implicit grant box turns the grant off (implicit_grant: false).
		body = b.page(b.post("/console/apps/new", url.Values{"auth_method": {"user"}, "name": {"Code only"}, "scopes": {"demo.read"}}), http.StatusCreated)
		codeOnly, err := e.app.Store().GetClient(context.Background(), regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1])
		if err != nil || !codeOnly.DisableImplicit {
			t.Fatalf("a client added with the box unticked: %+v, %v; want the implicit grant off", codeOnly, err)
		}
		if !e.app.Sealer().Matches(sec, cl.SecretDigest) {
			t.Fatal("the shown secret is not the client's")
		}

		b.page(b.get("/console/apps"), http.StatusOK, "Reporter", id, "API key (server)", "active", "demo.read, demo.write", "root")
		b.page(b.get("/console/apps/"+id), http.StatusOK, "Reveal secret", "bob")
		b.page(b.post("/console/apps/"+id+"/secret", nil), http.StatusOK, `value="`+sec+`"`)

		b.page(b.get("/console/apps/"+id+"/rotate"), http.StatusOK, "Confirm and continue")
		body = b.page(b.post("/console/apps/"+id+"/rotate", nil), http.StatusOK, "Copy the secret now", "previous secret keeps working")
		sec2 := regexp.MustCompile(`id="client_secret" value="([^"]+)"`).FindStringSubmatch(body)[1]
		cl, _ = e.app.Store().GetClient(context.Background(), id)
		if sec2 == sec || !e.app.Sealer().Matches(sec2, cl.SecretDigest) {
			t.Fatal("rotation did not show the new secret")
		}

		b.page(b.get("/console/apps/"+id+"/disable"), http.StatusOK, "Confirm and continue: Disable")
		if w := b.post("/console/apps/"+id+"/disable", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("disable: %d", w.Code)
		}
		b.page(b.get("/console/apps/"+id), http.StatusOK, `<td id="status">disabled</td>`, "Restore")
		b.post("/console/apps/"+id+"/restore", nil)
		b.page(b.get("/console/apps/"+id), http.StatusOK, `<td id="status">active</td>`)
		b.page(b.get("/console/apps/"+id+"/delete"), http.StatusOK, "cannot be undone")
		if w := b.post("/console/apps/"+id+"/delete", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/apps?done=deleted" {
			t.Fatalf("delete: %d %v", w.Code, w.Header())
		}
		b.page(b.get("/console/apps?done=deleted"), http.StatusOK, "The application was deleted.")
		if _, err := e.app.Store().GetClient(context.Background(), id); err == nil {
			t.Fatal("the client survived deletion")
		}
		b.page(b.get("/console/apps/"+id), http.StatusNotFound, "no such client")

		// every change is in the audit log with the admin user as actor
		body = b.page(b.get("/console/audit"), http.StatusOK, "client.delete", `<td data-label="Who"><span title="`+root.ID+`">root</span></td>`, remoteIP)
		if strings.Index(body, "client.delete") > strings.Index(body, "client.create") {
			t.Fatal("audit log not newest first")
		}
	})
}

// Secrets: an admin who did not create an app sees it masked and gets no
// reveal button; posting reveal anyway answers the mask.
func TestConsoleSecretMasked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		cl := e.create(e.super, map[string]any{"name": "theirs", "scopes": []string{"demo.read"}})
		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.get("/console/apps/"+cl.ClientID), http.StatusOK, "only its creator can reveal it")
		if strings.Contains(body, "Reveal secret") {
			t.Fatal("reveal offered to a non-owner")
		}
		b.page(b.post("/console/apps/"+cl.ClientID+"/secret", nil), http.StatusOK, `value="********"`)
		if strings.Contains(b.last.Body.String(), cl.ClientSecret) {
			t.Fatal("secret shown to a non-owner")
		}
	})
}

// Users: create (with the API's validation shown next to the fields, a
// weak password refused), the new admin can sign in; disable and enable;
// reset the password through PATCH /users/{id}.
func TestConsoleUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b := e.browser()
		b.signIn("", "root")
		b.page(b.get("/console/users/new"), http.StatusOK, `<label for="email">Email</label>`)
		body := b.page(b.post("/console/users/new", url.Values{"username": {""}, "email": {"not an address"}, "password": {"short"}}), http.StatusBadRequest)
		if fieldErrorOf(body, "username") != "is required" || !strings.Contains(fieldErrorOf(body, "email"), "plain address") ||
			!strings.Contains(fieldErrorOf(body, "password"), "at least 10 characters") {
			t.Fatalf("errors: %q %q %q", fieldErrorOf(body, "username"), fieldErrorOf(body, "email"), fieldErrorOf(body, "password"))
		}
		w := b.post("/console/users/new", url.Values{"username": {"ada"}, "display_name": {"Ada L"}, "email": {"ada@example.com"}, "admin": {"on"}, "password": {consolePassword}})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("create: %d %s", w.Code, w.Body.String())
		}
		b.page(b.get("/console/users?done=created"), http.StatusOK, "ada", "Ada L", "ada@example.com", "The user was added.")
		ada, err := e.app.Store().FindUser(context.Background(), store.DefaultTenantID, "ada")
		if err != nil || !ada.Admin {
			t.Fatalf("ada %+v %v", ada, err)
		}
		a2 := e.browser()
		a2.signIn("", "ada")

		b.post("/console/users/"+ada.ID+"/disable", nil)
		if u, _ := e.app.Store().GetUser(context.Background(), ada.ID); !u.Disabled {
			t.Fatal("not disabled")
		}
		if w := a2.get("/console/apps"); w.Code != http.StatusSeeOther {
			t.Fatalf("a disabled admin's session still works: %d", w.Code)
		}
		b.post("/console/users/"+ada.ID+"/enable", nil)
		if u, _ := e.app.Store().GetUser(context.Background(), ada.ID); u.Disabled {
			t.Fatal("not enabled")
		}

		b.page(b.get("/console/users/"+ada.ID+"/password"), http.StatusOK, "Reset the password of ada")
		body = b.page(b.post("/console/users/"+ada.ID+"/password", url.Values{"password": {"short"}}), http.StatusBadRequest)
		if !strings.Contains(fieldErrorOf(body, "password"), "at least 10") {
			t.Fatalf("weak password error %q", fieldErrorOf(body, "password"))
		}
		if w := b.post("/console/users/"+ada.ID+"/password", url.Values{"password": {"a brand new password"}}); w.Code != http.StatusSeeOther {
			t.Fatalf("reset: %d %s", w.Code, w.Body.String())
		}
		u, _ := e.app.Store().GetUser(context.Background(), ada.ID)
		if !passwordIs(u.PasswordHash, "a brand new password") {
			t.Fatal("password not changed")
		}
		// a session started before the change (ada's, restarted here) ends
		a3 := e.browser()
		a3.get("/")
		a3.page(a3.post("/console/signin", url.Values{"username": {"ada"}, "password": {"a brand new password"}}), http.StatusSeeOther)
		a3.page(a3.get("/console/apps"), http.StatusOK)
		time.Sleep(1100 * time.Millisecond)
		if w := b.post("/console/users/"+ada.ID+"/password", url.Values{"password": {"another new password"}}); w.Code != http.StatusSeeOther {
			t.Fatalf("second reset: %d", w.Code)
		}
		if w := a3.get("/console/apps"); w.Code != http.StatusSeeOther {
			t.Fatalf("a session from before the password change still works: %d", w.Code)
		}
	})
}

// Tenant isolation: an admin of tenant acme is a tenant admin; it sees
// only acme's apps, users and audit entries, gets 404 for another tenant's
// app and user, and cannot pick scopegate.admin.
func TestConsoleTenantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		e.tenant("globex")
		e.adminUser("acme", "boss")
		theirs := e.create(e.super, map[string]any{"name": "globex-app", "scopes": []string{"demo.read"}, "tenant_id": "globex"})
		mine := e.create(e.super, map[string]any{"name": "acme-app", "scopes": []string{"demo.read"}, "tenant_id": "acme"})
		gu := e.user("globex", "gina")

		b := e.browser()
		b.get("/")
		if w := b.post("/console/signin", url.Values{"username": {"boss"}, "password": {consolePassword}}); w.Code != http.StatusUnauthorized {
			t.Fatalf("boss signed in to the default tenant: %d", w.Code)
		}
		b.signIn("acme", "boss")
		body := b.page(b.get("/console/apps"), http.StatusOK, "acme-app", mine.ClientID)
		if strings.Contains(body, "globex-app") {
			t.Fatal("a tenant admin sees another tenant's app")
		}
		b.page(b.get("/console/apps/"+theirs.ClientID), http.StatusNotFound)
		b.page(b.post("/console/apps/"+theirs.ClientID+"/disable", nil), http.StatusNotFound)
		if c, _ := e.app.Store().GetClient(context.Background(), theirs.ClientID); c.Disabled {
			t.Fatal("a tenant admin disabled another tenant's app")
		}
		if strings.Contains(b.page(b.get("/console/users"), http.StatusOK, "boss"), "gina") {
			t.Fatal("a tenant admin sees another tenant's user")
		}
		b.page(b.post("/console/users/"+gu.ID+"/disable", nil), http.StatusNotFound)
		if strings.Contains(b.page(b.get("/console/apps/new"), http.StatusOK), `value="`+scope.Admin+`"`) {
			t.Fatal("scopegate.admin offered to a tenant admin")
		}
		if strings.Contains(b.page(b.get("/console/audit"), http.StatusOK), "globex") {
			t.Fatal("a tenant admin sees another tenant's audit entries")
		}
	})
}

// Integrations: a tenant admin sees the apps offered to its tenant with
// the requested scopes and their descriptions, who offers it (the developer
// tenant and the app's redirect URIs), allows a subset (the pair
// is shown once and holds only the allowed scopes), an empty subset is
// refused next to the scopes, and declining another app works. The page
// follows the tenant document: "Connect New App" leads to the apps not
// connected yet, and an allowed app's page has Disable (confirmed), then
// Restore.
func TestConsoleIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ie := newIntegrationsEnv(t, driver)
		ie.adminUser(ie.t1Tenant, "t1admin")
		other := ie.newApp("Other", []string{"demo.read"}, ie.t1Tenant)
		b := ie.browser()
		b.signIn(ie.t1Tenant, "t1admin")
		b.page(b.get("/console/integrations"), http.StatusOK, "Reporter", "Other", "demo.read, demo.write, global", `<td data-label="Offered by tenant" class="mono">dev</td>`)
		// Who offers the app, and where it sends users, are shown: any
		// tenant's admin can name an app as it likes.
		b.page(b.get("/console/integrations/"+ie.reporter.ID), http.StatusOK, `value="demo.write" checked`, "Allow", "Decline",
			`Offered by the developers of tenant <span class="mono">dev</span>, who send users back to <span class="mono">https://reporter.example/cb</span>`)

		body := b.page(b.post("/console/integrations/"+ie.reporter.ID+"/allow", url.Values{}), http.StatusBadRequest)
		if !strings.Contains(fieldErrorOf(body, "scopes"), "at least one scope") {
			t.Fatalf("empty subset error %q", fieldErrorOf(body, "scopes"))
		}
		body = b.page(b.post("/console/integrations/"+ie.reporter.ID+"/allow", url.Values{"scopes": {"demo.read"}}), http.StatusOK, "shown this once", ie.t1Tenant)
		id := regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1]
		sec := regexp.MustCompile(`id="client_secret" value="([^"]+)"`).FindStringSubmatch(body)[1]
		cl, err := ie.app.Store().GetClient(context.Background(), id)
		if err != nil || cl.TenantID != ie.t1Tenant || len(cl.AllowedScopes) != 1 || cl.AllowedScopes[0] != "demo.read" || !ie.app.Sealer().Matches(sec, cl.SecretDigest) {
			t.Fatalf("pair %+v %v", cl, err)
		}
		b.page(b.get("/console/integrations/"+ie.reporter.ID), http.StatusOK, id, "Granted scopes: demo.read",
			`id="disable" href="/console/apps/`+id+`/disable"`)
		// As the tenant document words it: the connected app is listed
		// under the tenant's apps, the one not connected yet under
		// "Connect New App"; Disable > Confirm and continue pauses the
		// pair, and its page then offers Restore.
		list := b.page(b.get("/console/integrations"), http.StatusOK, `id="connect-new-app" href="#connect"`)
		mine, connect, _ := strings.Cut(list, `id="connect"`)
		if !strings.Contains(mine, id) || strings.Contains(mine, other.ID) || !strings.Contains(connect, other.ID) || strings.Contains(connect, ie.reporter.ID) {
			t.Fatalf("the connected app belongs above #connect and the offered one below: %s", list)
		}
		b.page(b.get("/console/apps/"+id+"/disable"), http.StatusOK, "Confirm and continue: Disable")
		if w := b.post("/console/apps/"+id+"/disable", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("disable: %d %s", w.Code, w.Body.String())
		}
		b.page(b.get("/console/integrations/"+ie.reporter.ID), http.StatusOK, "Status: <strong>disabled</strong>", `id="restore" href="/console/apps/`+id+`/restore"`)

		if w := b.post("/console/integrations/"+other.ID+"/decline", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("decline: %d %s", w.Code, w.Body.String())
		}
		b.page(b.get("/console/integrations?done=declined"), http.StatusOK, "The integration was declined.", "declined")
	})
}

// linkTo returns the href of the page's link whose text is text, unescaped.
func linkTo(t *testing.T, page, text string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]*)">` + regexp.QuoteMeta(text) + `</a>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no link %q in %s", text, page)
	}
	return html.UnescapeString(m[1])
}

// The audit page pages through entries newest first, 50 a page, through
// the links it shows (every listing renders the same pager).
func TestConsoleAuditPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		for i := range 55 {
			if err := e.app.Store().Audit(context.Background(), store.Actor{Principal: "p", TenantID: store.DefaultTenantID}, "test.event", "target-"+string(rune('a'+i%26))+string(rune('a'+i/26)), ""); err != nil {
				t.Fatal(err)
			}
		}
		b := e.browser()
		b.signIn("", "root")
		first := b.page(b.get("/console/audit"), http.StatusOK, "Older entries")
		// The links are followed as a browser would: the second page is
		// another page, and its "newer" link leads back to the first.
		second := b.page(b.get("/console/audit"+linkTo(t, first, "Older entries")), http.StatusOK, "Newer entries")
		if strings.Count(first, "<tr>") != 51 || strings.Count(second, "<tr>") < 6 || strings.Count(second, "<tr>") > 50 {
			t.Fatalf("rows: %d then %d", strings.Count(first, "<tr>"), strings.Count(second, "<tr>"))
		}
		if back := b.page(b.get("/console/audit"+linkTo(t, second, "Newer entries")), http.StatusOK, "Older entries"); back != first {
			t.Fatalf("the newer link did not lead back to the first page")
		}
		// An offset near the largest int has no next page, rather than
		// one at a negative offset.
		last := b.page(b.get("/console/audit?offset=9223372036854775790"), http.StatusOK, "Newer entries")
		if strings.Contains(last, "Older entries") {
			t.Fatalf("a page past the end links to a next one: %s", last)
		}
	})
}

// Routing: without an Authorization header the root and /console/ paths
// are the console (HTML, with the security headers of web.Render) and
// unknown console pages are a 404 page; with a bearer token the same
// paths are the JSON API's (a problem), and other paths without a token
// stay the API's 401.
func TestConsoleRouting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		b := e.browser()
		w := b.get("/")
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("root: %d %v", w.Code, w.Header())
		}
		b.signIn("", "root")
		b.page(b.get("/console/nope"), http.StatusNotFound, "There is no such page.")
		problemOf(t, e.do("GET", "/console/apps", e.super, nil), http.StatusNotFound)
		if w := e.do("GET", "/users", "", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("API path without a token: %d", w.Code)
		}
	})
}

// A browser still holding the console's cookies under their old names (set
// for the whole mount point by an earlier version, so sent to upstreams
// too) gets them expired by the sign-in page; other cookies are left alone.
func TestSignInPageExpiresOldConsoleCookies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		b := e.browser()
		r := httptest.NewRequest(http.MethodGet, signInPath, nil)
		r.AddCookie(&http.Cookie{Name: "scopegate_console", Value: "old-session"})
		r.AddCookie(&http.Cookie{Name: "theirs", Value: "keep"})
		w := b.send(r)
		b.page(w, http.StatusOK, `name="csrf"`)
		expired := map[string]bool{}
		for _, c := range w.Result().Cookies() {
			if c.MaxAge < 0 {
				expired[c.Name] = c.Path == "/"
			}
		}
		if !expired["scopegate_console"] || len(expired) != 1 {
			t.Fatalf("expired cookies (name: on path /) %v, want only scopegate_console", expired)
		}
	})
}

// A console request or an admin API query with more than web.MaxParams
// parameters is refused before any of them is parsed (a 400 page, a 400
// problem), before the session or token is looked at; the console's
// sign-in form still works (the control).
func TestTooManyParametersRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.adminUser(store.DefaultTenantID, "ada")
		many := url.Values{}
		for i := range web.MaxParams + 1 {
			many.Set(fmt.Sprintf("p%d", i), "x")
		}
		b := e.browser()
		b.page(b.post("/console/signin", many), http.StatusBadRequest, "The form could not be read.")
		b.page(b.get("/console/signin?"+many.Encode()), http.StatusBadRequest, "too many parameters")
		b.signIn(store.DefaultTenantID, "ada")
		p := problemOf(t, e.do("GET", "/clients?"+many.Encode(), e.super, nil), http.StatusBadRequest)
		if !strings.Contains(p.Detail, "parameters") {
			t.Fatalf("admin API: %+v", p)
		}
	})
}
