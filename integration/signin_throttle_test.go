package integration

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestSignInThrottleSharedByConsoleAndAuthorize checks, on the shipped
// Imagen file, that the console and the authorize page count password
// attempts together: ten wrong passwords for ada sent at once, five to each
// form, get at most five password checks between them (the rest 429), as
// five to one form would. With a count per form (a red-team finding) all
// ten were checked. On a busy machine a post whose check did not start
// within the sign-in wait's bound is 503, unchecked. The attempts go out together because a wait starts when
// the fifth attempt is taken, before its slow password check, and may be
// over by the time that answer arrives: sent one after another the test
// would race the clock.
func TestSignInThrottleSharedByConsoleAndAuthorize(t *testing.T) {
	g := startGateway(t, "imagen.Caddyfile", "sqlite")
	admin := bootstrapAdmin(t, g, "/oauth/token")
	createUser(t, g, admin, map[string]any{"username": "ada", "password": userPassword, "admin": true})
	key := consoleAPIKey(t, g, "ada", "ada-desktop", "urn:ietf:wg:oauth:2.0:oob", "readUsersData")

	// Each form's sign-in post, built once from its page.
	console := signInPage(t, g)
	consoleForm := url.Values{"tenant": {"default"}, "username": {"ada"}, "password": {"wrong-Passw0rd"}, "csrf": {console.csrf}}
	b := newFormBrowser(t, g)
	page := b.open(g.URL + "/oauth/authorize?response_type=token&client_id=" + key + "&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=readUsersData")
	m := formTag.FindStringSubmatch(page.Body)
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `id="sign-in"`) || m == nil {
		t.Fatalf("the authorize URL: %d %s", page.Status, page.Body)
	}
	authForm := url.Values{"action": {"login"}, "username": {"ada"}, "password": {"wrong-Passw0rd"}}
	for _, h := range hiddenInput.FindAllStringSubmatch(m[2], -1) {
		authForm.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	authTarget, _ := url.Parse(page.URL)
	authTarget, _ = authTarget.Parse(html.UnescapeString(m[1]))

	post := func(c *http.Client, target string, form url.Values) (int, error) {
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", g.URL)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	errs := make([]error, 10)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				statuses[i], errs[i] = post(console.hc, console.base+"/console/signin", consoleForm)
			} else {
				statuses[i], errs[i] = post(b.c, authTarget.String(), authForm)
			}
		}()
	}
	wg.Wait()
	checked, busy := 0, 0
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			t.Fatalf("sign-in post %d: %v", i, errs[i])
		case st == http.StatusUnauthorized:
			checked++
		case st == http.StatusServiceUnavailable:
			// Its turn for a password check did not come within the sign-in
			// wait's bound (a busy machine under -race): refused unchecked,
			// its attempt given back.
			busy++
		case st != http.StatusTooManyRequests:
			t.Fatalf("sign-in post %d (%s): status %d, want 401, 429 or 503", i, map[bool]string{true: "console", false: "authorize"}[i%2 == 0], st)
		}
	}
	// Five free attempts; a wait of 2 s, then 4 s, may lapse on a busy
	// machine before the last posts are read, letting one or two more in.
	// Counted per form, all ten would be checked.
	if checked+busy < 5 || checked > 7 {
		t.Fatalf("%d of 10 wrong passwords sent at once to the two forms were checked (statuses %v), want 5 (shared count)", checked, statuses)
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
