package integration

import (
	"bufio"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
)

// rawGet sends a GET with the request-target written exactly as given (Go's
// HTTP client would clean it) and extra header lines, and reads the answer.
func rawGet(t *testing.T, g *gateway, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	return rawRequest(t, g, "GET", target, headers...)
}

// rawRequest sends method with the request-target and header lines written
// exactly as given (Go's client cleans a target, and sends one starting with
// "//" as an absolute URL naming its first segment as the host), an empty
// body, and reads the answer.
func rawRequest(t *testing.T, g *gateway, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	host := u.Host
	var extra strings.Builder
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			host = headers[i+1]
			continue
		}
		extra.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	if method != "GET" && method != "HEAD" {
		extra.WriteString("Content-Length: 0\r\n")
	}
	if _, err := io.WriteString(conn, method+" "+target+" HTTP/1.1\r\nHost: "+host+"\r\n"+extra.String()+"Connection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

var emittedURLs = regexp.MustCompile(`(?i)\b(action|href|src|formaction)="([^"]*)"`)

// Through the shipped imagen.Caddyfile, whose `handle /oauth/authorize*`
// Caddy matches on the cleaned path: raw request paths that clean to
// /oauth/authorize but start with "//evil.example" or a backslash (which
// browsers read as a slash) are refused by scopegate_strip for their dot
// segment; "//oauth/authorize" and a hostile Host with X-Forwarded-Host get
// the sign-in page with the form action /oauth/authorize, so the user's
// password is posted nowhere else; its cookie is scoped to that path. The console's sign-in page behind `handle_path /admin/*` asked for
// with such paths emits no link, form or redirect off this origin either.
func TestRawHostilePathsStayOnOrigin(t *testing.T) {
	g := startGateway(t, "imagen.Caddyfile", store.SQLite)
	admin := bootstrapAdmin(t, g, "/oauth/token")
	id, _ := createClient(t, g, admin, map[string]any{"name": "Desktop", "auth_method": "user",
		"scopes": []string{"readUsersData"}, "redirect_uris": []string{"urn:ietf:wg:oauth:2.0:oob"}})
	query := "?" + url.Values{"response_type": {"token"}, "client_id": {id}, "redirect_uri": {"urn:ietf:wg:oauth:2.0:oob"},
		"state": {"1"}, "scope": {"readUsersData"}}.Encode()
	local := func(t *testing.T, what string, resp *http.Response, body string) {
		t.Helper()
		for _, m := range emittedURLs.FindAllStringSubmatch(body, -1) {
			u := html.UnescapeString(m[2])
			if !(strings.HasPrefix(u, "/") || strings.HasPrefix(u, "?")) || strings.HasPrefix(u, "//") || strings.ContainsAny(u, `\`) || strings.Contains(u, "evil") {
				t.Errorf("%s: %s=%q leaves this origin", what, m[1], u)
			}
		}
		if loc := resp.Header.Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, `\`) || strings.Contains(loc, "evil")) {
			t.Errorf("%s: Location %q leaves this origin", what, loc)
		}
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Path, "//") || strings.Contains(c.Path, "evil") {
				t.Errorf("%s: cookie %s on path %q", what, c.Name, c.Path)
			}
		}
	}
	// Paths that clean to /oauth/authorize through a dot segment, or that
	// start with "//" (a host to a URI-reference parser), never get that
	// far: scopegate_strip refuses them (400 JSON, no page, no cookie).
	for _, target := range []string{"//oauth/authorize", "//evil.example/..%2Foauth/authorize", `/\evil.example/..%2Foauth/authorize`, "/%5Cevil.example/..%2Foauth/authorize"} {
		resp, body := rawGet(t, g, target+query)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error":"invalid_request"`) || len(resp.Cookies()) != 0 {
			t.Errorf("GET %s: %d %s (cookies %v), want 400 invalid_request from scopegate_strip", target, resp.StatusCode, body, resp.Cookies())
		}
		local(t, "authorize "+target, resp, body)
	}
	for name, tc := range map[string]struct {
		target  string
		headers []string
	}{
		"hostile Host":       {target: "/oauth/authorize", headers: []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}},
		"inner double slash": {target: "/oauth//authorize"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := rawGet(t, g, tc.target+query, tc.headers...)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="sign-in"`) {
				t.Fatalf("GET %s: %d, want the sign-in page; %s", tc.target, resp.StatusCode, body)
			}
			if !strings.Contains(body, `<form class="card" method="post" action="/oauth/authorize">`) {
				t.Errorf("GET %s: the sign-in form does not post to /oauth/authorize: %s", tc.target, body)
			}
			local(t, "authorize "+tc.target, resp, body)
			for _, c := range resp.Cookies() {
				if c.Path != "/oauth/authorize" {
					t.Errorf("cookie %s on path %q, want /oauth/authorize", c.Name, c.Path)
				}
			}
		})
	}
	for _, target := range []string{"//evil.example/..%2Fadmin/", `/\evil.example/..%2Fadmin/`, "/%5Cevil.example/..%2Fadmin/",
		"/admin//evil.example/..%2F", "//evil.example/..%2Fadmin/console/apps"} {
		resp, body := rawGet(t, g, target)
		if resp.StatusCode >= 500 {
			t.Errorf("console %s: %d", target, resp.StatusCode)
		}
		local(t, "console "+target, resp, body)
	}
	// The console's address leads to its sign-in page on this origin; the
	// plain sign-in page, for comparison.
	resp, body := rawGet(t, g, "/admin/", "X-Forwarded-Host", "evil.example")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/console/signin" {
		t.Fatalf("console address: %d, Location %q, want 303 to /admin/console/signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	local(t, "console /admin/", resp, body)
	resp, body = rawGet(t, g, "/admin/console/signin", "X-Forwarded-Host", "evil.example")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/admin/console/signin"`) {
		t.Fatalf("console sign-in page: %d %s", resp.StatusCode, body)
	}
	local(t, "console /admin/console/signin", resp, body)
}
