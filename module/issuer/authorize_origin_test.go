package issuer

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

var pageURLs = regexp.MustCompile(`(?i)\b(action|href|src|formaction)="([^"]*)"`)

// localURLs fails unless every form action, link and cookie path of an
// answer is a path on this origin, and every form action is wantAction. It
// returns how many form actions it saw.
func localURLs(t *testing.T, rec *httptest.ResponseRecorder, wantAction string) int {
	t.Helper()
	actions := 0
	for _, m := range pageURLs.FindAllStringSubmatch(rec.Body.String(), -1) {
		u := html.UnescapeString(m[2])
		if !onThisOrigin(u) {
			t.Errorf("%s=%q leaves this origin", m[1], u)
		}
		if strings.EqualFold(m[1], "action") {
			actions++
			if u != wantAction {
				t.Errorf("form action %q, want %q", u, wantAction)
			}
		}
	}
	for _, c := range rec.Result().Cookies() {
		if !onThisOrigin(c.Path) || c.Path != wantAction {
			t.Errorf("cookie %s has path %q, want %q", c.Name, c.Path, wantAction)
		}
	}
	return actions
}

// onThisOrigin: an absolute path (one leading slash) or a query, never a
// scheme, a host ("//…", "/\…") or a backslash anywhere.
func onThisOrigin(u string) bool {
	if strings.HasPrefix(u, "?") {
		return !strings.Contains(u, `\`)
	}
	return strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.ContainsAny(u, "\\\t\r\n")
}

// Every form action, link and cookie path the authorize pages emit stays on
// this origin whatever the raw request path, Host or forwarded headers say:
// Caddy matches "//evil.example/..%2Foauth/authorize" (and the backslash
// forms browsers read as slashes) as /oauth/authorize, and the pages post
// to /oauth/authorize, never to evil.example; so do the pages behind
// handle_path, where the original path is the hostile one. Through sign-in
// (wrong, then right password) and consent, the only Location that leaves
// is the client's registered redirect URI.
func TestAuthorizeFormActionStaysOnOrigin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		params := implicitParams(c.ID, appRedirect, "demo.read")
		type hostile struct {
			target  string // the raw request-target
			headers []string
			// behind handle_path: the handler sees /, the original request
			// had target.
			stripped bool
		}
		cases := map[string]hostile{
			"double slash":            {target: "//evil.example/..%2Foauth/authorize"},
			"backslash":               {target: `/\evil.example/..%2Foauth/authorize`},
			"encoded backslash":       {target: "/%5Cevil.example/..%2Foauth/authorize"},
			"two encoded backslashes": {target: "/%5C%5Cevil.example/..%2F..%2Foauth/authorize"},
			"tab":                     {target: "/%09/evil.example/..%2F..%2Foauth/authorize"},
			"hostile Host and X-Forwarded-Host": {target: "/oauth/authorize", headers: []string{
				"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https",
				"Forwarded", "host=evil.example;proto=https", "X-Original-URL", "//evil.example/x"}},
			"behind handle_path": {target: "//evil.example/..%2Foauth/authorize", stripped: true},
		}
		users := map[string]string{}
		for name := range cases {
			users[name] = "user-" + strings.NewReplacer(" ", "-").Replace(name)
			f.authUser(store.DefaultTenantID, users[name])
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				_, b := f.authorize(t)
				origin := "http://example.com"
				request := func(method string, body url.Values) *http.Request {
					target := tc.target + "?" + params.Encode()
					var r *http.Request
					if method == http.MethodGet {
						r = httptest.NewRequest(method, target, nil)
					} else {
						r = httptest.NewRequest(method, tc.target, strings.NewReader(body.Encode()))
						r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						r.Header.Set("Origin", origin)
					}
					for i := 0; i+1 < len(tc.headers); i += 2 {
						if tc.headers[i] == "Host" {
							r.Host = tc.headers[i+1]
							origin = "http://" + r.Host
							if method != http.MethodGet {
								r.Header.Set("Origin", origin)
							}
							continue
						}
						r.Header.Set(tc.headers[i], tc.headers[i+1])
					}
					if tc.stripped {
						orig := *r
						u := *r.URL
						orig.URL = &u
						r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
						r.URL.Path, r.URL.RawPath = "/", ""
					}
					return r
				}
				signInPage := b.serve(request(http.MethodGet, nil))
				page(t, signInPage, http.StatusOK, `id="sign-in"`)
				if localURLs(t, signInPage, "/oauth/authorize") == 0 {
					t.Fatal("the sign-in page has no form")
				}
				form := clone(params)
				form.Set("action", "login")
				form.Set("csrf", csrfOf(t, signInPage.Body.String()))
				form.Set("username", users[name])
				form.Set("password", "not the password")
				wrong := b.serve(request(http.MethodPost, form))
				page(t, wrong, http.StatusUnauthorized, "Wrong username or password.")
				localURLs(t, wrong, "/oauth/authorize")

				form.Set("password", testPassword)
				consent := b.serve(request(http.MethodPost, form))
				page(t, consent, http.StatusOK, `value="approve"`)
				if n := localURLs(t, consent, "/oauth/authorize"); n != 3 {
					t.Fatalf("consent page has %d forms, want 3", n)
				}
				approve := clone(params)
				approve.Set("action", "approve")
				approve.Set("csrf", csrfOf(t, consent.Body.String()))
				redirected(t, b.serve(request(http.MethodPost, approve)), appRedirect+"#", true)
			})
		}
	})
}
