package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignInThrottleSharedByConsoleAndAuthorize checks, on the shipped
// Imagen file, that the console and the authorize page count password
// attempts together: after five wrong passwords for ada at the console, the
// authorize page refuses her sign-in (429 with Retry-After), even with the
// right password. With a count per form (a red-team finding) the authorize
// page gave five more guesses.
func TestSignInThrottleSharedByConsoleAndAuthorize(t *testing.T) {
	g := startGateway(t, "imagen.Caddyfile", "sqlite")
	admin := bootstrapAdmin(t, g, "/oauth/token")
	createUser(t, g, admin, map[string]any{"username": "ada", "password": userPassword, "admin": true})
	cc := signInConsole(t, g, "/admin", "default", "ada", userPassword)
	cc.get("/console/apps/new") // the form's CSRF token
	status, created := cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-desktop"},
		"scopes": {"readUsersData"}, "redirect_uri": {"urn:ietf:wg:oauth:2.0:oob"}, "implicit_grant": {"on"}})
	if status != http.StatusCreated {
		t.Fatalf("adding the API key in the console: %d", status)
	}
	key := inputValue(t, created, "client_id")

	guesser := signInPage(t, g)
	for i := range 5 {
		if status, _ := guesser.post("/console/signin", url.Values{"tenant": {"default"}, "username": {"ada"}, "password": {"wrong-Passw0rd"}}); status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d at the console: %d, want 401", i+1, status)
		}
	}

	b := newFormBrowser(t, g)
	p := b.open(g.URL + "/oauth/authorize?response_type=token&client_id=" + key + "&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=readUsersData")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="sign-in"`) {
		t.Fatalf("the authorize URL: %d %s", p.Status, p.Body)
	}
	p = b.signIn(p, "ada", userPassword)
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Fatalf("ada's sign-in at the authorize page after five wrong passwords at the console: %d (Retry-After %q), want 429",
			p.Status, p.Header.Get("Retry-After"))
	}
}

// signInPage is a console client that has only fetched the sign-in page
// (its CSRF cookie and token), ready to post sign-ins.
func signInPage(t *testing.T, g *gateway) *consoleClient {
	t.Helper()
	cc := &consoleClient{t: t, base: g.URL + "/admin", hc: goBrowser(t)}
	if status, _ := cc.get("/console/signin"); status != http.StatusOK || cc.csrf == "" {
		t.Fatalf("console sign-in page: status %d, CSRF token %q", status, cc.csrf)
	}
	return cc
}
