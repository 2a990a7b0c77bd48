package integration

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// consoleClient is an admin signed in to the admin console over plain HTTP,
// as a browser without JavaScript would be: it keeps the session cookie,
// posts the last page's CSRF token and sends its own origin.
type consoleClient struct {
	t    *testing.T
	base string // the gateway URL and the console's mount point
	hc   *http.Client
	csrf string
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInConsole signs in to the console mounted at mount (e.g. "/admin")
// and fails the test unless a session starts.
func signInConsole(t *testing.T, g *gateway, mount, tenant, username, password string) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cc := &consoleClient{t: t, base: g.URL + mount, hc: &http.Client{
		Jar: jar,
		// Redirects are answers to check, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	// The sign-in page first: its form carries the sign-in CSRF token (and
	// sets the cookie that token is checked against).
	if status, _ := cc.get("/console/signin"); status != http.StatusOK || cc.csrf == "" {
		t.Fatalf("console sign-in page: status %d, CSRF token %q", status, cc.csrf)
	}
	status, _ := cc.post("/console/signin", url.Values{"tenant": {tenant}, "username": {username}, "password": {password}})
	if status != http.StatusSeeOther {
		t.Fatalf("console sign-in as %s: status %d", username, status)
	}
	return cc
}

// get fetches a console page and keeps its CSRF token.
func (cc *consoleClient) get(path string) (int, string) {
	cc.t.Helper()
	req, err := http.NewRequest("GET", cc.base+path, nil)
	if err != nil {
		cc.t.Fatal(err)
	}
	return cc.send(req)
}

// post submits a form with the CSRF token of the last page.
func (cc *consoleClient) post(path string, form url.Values) (int, string) {
	cc.t.Helper()
	if cc.csrf != "" && !form.Has("csrf") {
		form.Set("csrf", cc.csrf)
	}
	req, err := http.NewRequest("POST", cc.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		cc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(cc.base)
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	return cc.send(req)
}

func (cc *consoleClient) send(req *http.Request) (int, string) {
	cc.t.Helper()
	resp, err := cc.hc.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	body := string(raw)
	if m := consoleCSRF.FindStringSubmatch(body); m != nil {
		cc.csrf = html.UnescapeString(m[1])
	}
	return resp.StatusCode, body
}

// inputValue returns the value of the input with the given id on a page.
func inputValue(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page has no input %q", id)
	}
	return html.UnescapeString(m[1])
}
