package admin

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// jarBrowser sends requests with the cookies a browser would send for
// their path (net/http/cookiejar), unlike browser, which sends all.
type jarBrowser struct {
	e   *env
	jar *cookiejar.Jar
}

func (b *jarBrowser) do(method, path string, form url.Values) (*httptest.ResponseRecorder, string) {
	b.e.t.Helper()
	u, _ := url.Parse("http://example.com" + path)
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "http://example.com")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	for _, c := range b.jar.Cookies(u) {
		r.AddCookie(c)
	}
	w := b.e.serve(r)
	b.jar.SetCookies(u, w.Result().Cookies())
	if loc := w.Header().Get("Location"); method == "GET" && w.Code == http.StatusSeeOther && strings.HasPrefix(loc, "/") {
		return b.do("GET", loc, nil) // as a browser follows it
	}
	token := ""
	if m := csrfField.FindStringSubmatch(w.Body.String()); m != nil {
		token = html.UnescapeString(m[1])
	}
	return w, token
}

// Two tabs open on the console's address (where /admin leads) share the
// sign-in form's CSRF token, so signing in from the first works after the
// second was opened (console red team: the form was shown at the address,
// outside the path of its cookie, /console/, so each view set a new token
// and the first tab's sign-in was refused as cross-site; the address now
// leads to the form under that path). A token cookie set before (by a tab
// left open) is taken up by a new view; a made-up token is still refused.
func TestSignInFromTheFirstOfTwoTabs(t *testing.T) {
	e := newEnv(t, store.SQLite)
	e.adminUser(store.DefaultTenantID, "ann")
	signIn := func(b *jarBrowser, token string) *httptest.ResponseRecorder {
		w, _ := b.do("POST", "/console/signin", url.Values{"csrf": {token}, "tenant": {store.DefaultTenantID}, "username": {"ann"}, "password": {consolePassword}})
		return w
	}
	jar, _ := cookiejar.New(nil)
	b := &jarBrowser{e: e, jar: jar}
	_, first := b.do("GET", "/", nil)
	_, second := b.do("GET", "/", nil)
	if first == "" || first != second {
		t.Fatalf("two views of the sign-in form: tokens %q and %q, want one shared token", first, second)
	}
	if w := signIn(b, first); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in from the first tab: %d %s", w.Code, w.Body)
	}

	jar, _ = cookiejar.New(nil)
	b = &jarBrowser{e: e, jar: jar}
	old := web.SignInCSRF{Name: ConsoleCSRFCookie, Path: "/console/", TTL: 12 * time.Hour, Sealer: e.app.Sealer()}
	rec := httptest.NewRecorder()
	if _, err := old.Token(rec, httptest.NewRequest("GET", "/console/signin", nil)); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://example.com/console/")
	jar.SetCookies(u, rec.Result().Cookies())
	_, token := b.do("GET", "/", nil)
	if w := signIn(b, token); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in with the token of a cookie set before: %d %s", w.Code, w.Body)
	}
	if w := signIn(&jarBrowser{e: e, jar: jar}, "forged-token"); w.Code != http.StatusForbidden {
		t.Fatalf("sign-in with a made-up token: %d, want 403", w.Code)
	}
}
