package admin

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

var consoleURLs = regexp.MustCompile(`(?i)\b(action|href|src|formaction)="([^"]*)"`)

// onConsoleOrigin: a path under the console's mount point /admin (one
// leading slash) or a query, never a scheme, a host or a backslash.
func onConsoleOrigin(u string) bool {
	if strings.HasPrefix(u, "?") {
		return !strings.Contains(u, `\`)
	}
	return strings.HasPrefix(u, "/admin/") && !strings.ContainsAny(u, "\\\t\r\n")
}

// consoleLocal fails unless every form action, link, Location and cookie
// path of a console answer stays under /admin on this origin.
func consoleLocal(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for _, m := range consoleURLs.FindAllStringSubmatch(w.Body.String(), -1) {
		if u := html.UnescapeString(m[2]); !onConsoleOrigin(u) {
			t.Errorf("%s=%q leaves the console's origin", m[1], u)
		}
	}
	if loc := w.Header().Get("Location"); loc != "" && !onConsoleOrigin(loc) {
		t.Errorf("Location %q leaves the console's origin", loc)
	}
	for _, c := range w.Result().Cookies() {
		if c.Path != "/admin/console/" {
			t.Errorf("cookie %s has path %q, want /admin/console/ (never sent to an upstream beside the console)", c.Name, c.Path)
		}
	}
}

// Every form action, link, redirect and cookie path of the console stays
// under its mount point on this origin whatever the raw request path, Host
// or forwarded headers say. Behind `handle_path /admin/*` the handler sees
// the stripped path and the original one may be hostile:
// "//evil.example/..%2Fadmin/" (which Caddy matches as /admin/) made the
// base "//evil.example/../admin", so the sign-in form posted the password
// to evil.example. Here the sign-in page, a wrong password, the sign-in's
// redirect and the apps page are each checked.
func TestConsoleLinksStayOnOrigin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.adminUser(store.DefaultTenantID, "root")
		for name, prefix := range map[string]string{
			"double slash":       "//evil.example/..%2Fadmin",
			"backslash":          `/\evil.example/..%2Fadmin`,
			"encoded backslash":  "/%5Cevil.example/..%2Fadmin",
			"two backslashes":    "/%5C%5Cevil.example/..%2F..%2Fadmin",
			"tab":                "/%09/evil.example/..%2F..%2Fadmin",
			"hostile Host":       "/admin",
			"plain, for control": "/admin",
		} {
			t.Run(name, func(t *testing.T) {
				se := *e // failures belong to the subtest
				se.t = t
				b := se.browser()
				origin := "http://example.com"
				hostile := name == "hostile Host"
				if hostile {
					origin = "http://evil.example"
				}
				// at builds a request as handle_path /admin/* hands it on:
				// the handler sees path, the original request prefix+path.
				at := func(method, path string, form url.Values) *http.Request {
					var r *http.Request
					if form != nil {
						r = httptest.NewRequest(method, prefix+path, strings.NewReader(form.Encode()))
						r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						r.Header.Set("Origin", origin)
					} else {
						r = httptest.NewRequest(method, prefix+path, nil)
					}
					if hostile {
						r.Host = "evil.example"
						r.Header.Set("X-Forwarded-Host", "evil.example")
						r.Header.Set("Forwarded", "host=evil.example;proto=https")
						r.Header.Set("X-Forwarded-Prefix", "//evil.example")
					}
					orig := *r
					u := *r.URL
					orig.URL = &u
					r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, orig))
					r.URL.Path, r.URL.RawPath = path, ""
					return r
				}
				root := b.send(at("GET", "/", nil))
				if root.Code != http.StatusSeeOther || root.Header().Get("Location") != "/admin/console/signin" {
					t.Fatalf("the console's address: %d, Location %q, want 303 to the sign-in form", root.Code, root.Header().Get("Location"))
				}
				consoleLocal(t, root)
				signIn := b.send(at("GET", "/console/signin", nil))
				b.page(signIn, http.StatusOK, `action="/admin/console/signin"`)
				consoleLocal(t, signIn)
				creds := url.Values{"username": {"root"}, "password": {"not the password"}, "csrf": {b.csrf}}
				wrong := b.send(at("POST", "/console/signin", creds))
				b.page(wrong, http.StatusUnauthorized, `action="/admin/console/signin"`)
				consoleLocal(t, wrong)
				creds.Set("password", consolePassword)
				in := b.send(at("POST", "/console/signin", creds))
				if in.Code != http.StatusSeeOther || in.Header().Get("Location") != "/admin/console/apps" {
					t.Fatalf("sign-in: %d, Location %q", in.Code, in.Header().Get("Location"))
				}
				consoleLocal(t, in)
				apps := b.send(at("GET", "/console/apps", nil))
				b.page(apps, http.StatusOK, `href="/admin/console/apps/new"`, `action="/admin/console/signout"`)
				consoleLocal(t, apps)
				out := b.send(at("POST", "/console/signout", url.Values{"csrf": {b.csrf}}))
				if out.Code != http.StatusSeeOther || out.Header().Get("Location") != "/admin/console/signin" {
					t.Fatalf("sign-out: %d, Location %q", out.Code, out.Header().Get("Location"))
				}
				consoleLocal(t, out)
			})
		}
	})
}

// A burst of wrong passwords for one admin, sent in parallel, gets no more
// password checks than a sequence does: of 19 parallel sign-ins at most
// five are checked (401), the rest wait (429).
func TestConsoleSignInBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.adminUser(store.DefaultTenantID, "root")
		b := e.browser()
		b.get("/")
		var checks atomic.Int32
		defer web.ObserveComparisons(func(int) { checks.Add(1) })()
		codes := make([]int, 19)
		var wg sync.WaitGroup
		for i := range codes {
			form := url.Values{"username": {"root"}, "password": {"not the password"}, "csrf": {b.csrf}}
			r := httptest.NewRequest("POST", "/console/signin", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", b.origin)
			r.AddCookie(b.signInCSRF)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := httptest.NewRecorder()
				if err := e.h.ServeHTTP(w, r, nil); err != nil {
					t.Errorf("ServeHTTP: %v", err)
				}
				codes[i] = w.Code
			}()
		}
		wg.Wait()
		checked, waited := 0, 0
		for _, c := range codes {
			switch c {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				waited++
			default:
				t.Fatalf("status %d", c)
			}
		}
		if checked == 0 || checked > 5 || waited != 19-checked || int(checks.Load()) != checked {
			t.Fatalf("19 parallel wrong passwords: %d checked (%d comparisons), %d told to wait; want at most 5 checked",
				checked, checks.Load(), waited)
		}
	})
}

// Every failed console sign-in does the work of a real one: an unknown
// tenant, an invalid tenant name, an unknown user, an empty username, a
// user without a password and a user who is not an admin are each one
// bcrypt comparison against a hash of the cost real hashes have, so the
// answer's timing tells neither which tenants nor which users exist.
func TestConsoleSignInSameWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		// Not the minimum cost the other tests use, which a fixed cheap
		// dummy hash would match by chance.
		defer func(c int) { web.PasswordCost = c }(web.PasswordCost)
		web.PasswordCost = bcrypt.MinCost + 1
		e := newEnv(t, driver)
		e.adminUser(store.DefaultTenantID, "root")
		e.user(store.DefaultTenantID, "nopass")
		hash, err := web.HashPassword(consolePassword)
		if err != nil {
			t.Fatal(err)
		}
		plain := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "plain", PasswordHash: hash}
		if err := e.app.Store().CreateUser(context.Background(), plain, store.Actor{Principal: "test"}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var costs []int
		defer web.ObserveComparisons(func(cost int) { mu.Lock(); costs = append(costs, cost); mu.Unlock() })()
		b := e.browser()
		b.get("/")
		for _, tc := range []struct{ tenant, username, password string }{
			{"no-such-tenant", "root", consolePassword},
			{"not a tenant id!", "root", consolePassword},
			{"", "nobody", consolePassword},
			{"", "", consolePassword},
			{"", "nopass", consolePassword},
			{"", "plain", consolePassword},
			{"", "root", "not the password"},
		} {
			costs = nil
			b.page(b.post("/console/signin", url.Values{"tenant": {tc.tenant}, "username": {tc.username}, "password": {tc.password}}),
				http.StatusUnauthorized, "Wrong tenant, username or password")
			if len(costs) != 1 || costs[0] != web.PasswordCost {
				t.Errorf("tenant %q user %q: compared against hash costs %v, want one of cost %d", tc.tenant, tc.username, costs, web.PasswordCost)
			}
		}
	})
}

// A console sign-in whose caller hung up is answered 499 and checks no
// password, whatever the form typed: the tenant's look-up cut short by the
// cancellation answered 500 and logged an error (review), and an attempt
// not checked is given back, so the admin still signs in after six.
func TestConsoleSignInOfAGoneCaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.adminUser(store.DefaultTenantID, "root")
		var checks atomic.Int32
		defer web.ObserveComparisons(func(int) { checks.Add(1) })()
		b := e.browser()
		b.get("/")
		for _, tenant := range []string{"", "Default", "no-such-tenant", "default", "x", "y"} {
			form := url.Values{"tenant": {tenant}, "username": {"root"}, "password": {"not the password"}, "csrf": {b.csrf}}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r := httptest.NewRequestWithContext(ctx, "POST", "/console/signin", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if b.origin != "" {
				r.Header.Set("Origin", b.origin)
			}
			if w := b.send(r); w.Code != web.StatusClientGone {
				t.Fatalf("tenant %q, caller gone: %d %s, want %d", tenant, w.Code, w.Body.String(), web.StatusClientGone)
			}
		}
		if checks.Load() != 0 {
			t.Fatalf("%d passwords checked for callers gone, want none", checks.Load())
		}
		b.signIn("", "root")
	})
}
