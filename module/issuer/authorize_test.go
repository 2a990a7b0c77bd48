package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

func init() { web.PasswordCost = 4 } // the minimum: tests check behaviour, not cost

const (
	testPassword = "correct horse battery"
	appRedirect  = "https://app.test/callback"
)

// browser drives an Authorize handler the way a browser does: it keeps the
// cookies and sends an Origin on posts.
type browser struct {
	t       *testing.T
	a       *Authorize
	cookies map[string]*http.Cookie
	origin  string
}

func (f *fixture) authorize(t *testing.T) (*Authorize, *browser) {
	t.Helper()
	a := &Authorize{}
	if err := a.setup(f.app, f.log); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	return a, &browser{t: t, a: a, cookies: map[string]*http.Cookie{}, origin: "http://example.com"}
}

func (b *browser) serve(r *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	if err := b.a.ServeHTTP(rec, r, nil); err != nil {
		b.t.Fatalf("ServeHTTP returned %v; the endpoint answers every request itself", err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

func (b *browser) get(params url.Values) *httptest.ResponseRecorder {
	return b.getFrom(params, "")
}

// getFrom is get with the Sec-Fetch-Site header a browser sends ("": none).
func (b *browser) getFrom(params url.Values, site string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+params.Encode(), nil)
	if site != "" {
		r.Header.Set("Sec-Fetch-Site", site)
	}
	return b.serve(r)
}

func (b *browser) post(form url.Values) *httptest.ResponseRecorder {
	return b.serve(b.postRequest(context.Background(), form))
}

// postRequest is the form post the browser sends, with ctx.
func (b *browser) postRequest(ctx context.Context, form url.Values) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/oauth/authorize", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if b.origin != "" {
		r.Header.Set("Origin", b.origin)
	}
	return r
}

// login opens the sign-in page for params, as a browser does first, and
// posts its form with the page's CSRF token.
func (b *browser) login(params url.Values, username, password string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.post(b.loginForm(params, username, password))
}

// loginForm opens the sign-in page for params and fills its form.
func (b *browser) loginForm(params url.Values, username, password string) url.Values {
	b.t.Helper()
	form := clone(params)
	form.Set("action", "login")
	form.Set("csrf", csrfOf(b.t, page(b.t, b.get(params), http.StatusOK, `id="sign-in"`)))
	form.Set("username", username)
	form.Set("password", password)
	return form
}

// decide posts Allow or Deny with the CSRF token found on the consent page.
func (b *browser) decide(params url.Values, page *httptest.ResponseRecorder, action string) *httptest.ResponseRecorder {
	b.t.Helper()
	form := clone(params)
	form.Set("action", action)
	form.Set("csrf", csrfOf(b.t, page.Body.String()))
	return b.post(form)
}

func clone(v url.Values) url.Values {
	out := url.Values{}
	for k, vals := range v {
		out[k] = append([]string(nil), vals...)
	}
	return out
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	const marker = `name="csrf" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no CSRF field on the page: %s", body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// page asserts an HTML answer with status whose body contains every want.
func page(t *testing.T, rec *httptest.ResponseRecorder, status int, want ...string) string {
	t.Helper()
	body := rec.Body.String()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body: %s", rec.Code, status, body)
	}
	if loc := rec.Header().Get("Location"); loc != "" {
		t.Fatalf("page answer redirects to %s", loc)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("not a page with the security headers: %v", rec.Header())
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q: %s", w, body)
		}
	}
	return body
}

// redirected asserts a 302 and returns the Location's parameters from the
// fragment or the query.
func redirected(t *testing.T, rec *httptest.ResponseRecorder, prefix string, fragment bool) url.Values {
	t.Helper()
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusFound || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("status %d Location %q, want a redirect to %s; body %s", rec.Code, loc, prefix, rec.Body.String())
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	raw := u.RawQuery
	if fragment {
		raw = u.Fragment
		if u.RawQuery != "" {
			t.Fatalf("implicit answer in the query: %s", loc)
		}
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// authUser creates an active user with testPassword.
func (f *fixture) authUser(tenant, username string) *store.User {
	f.t.Helper()
	u := f.user(tenant, username, false)
	hash, err := web.HashPassword(testPassword)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.app.Store().SetUserPassword(context.Background(), u.ID, tenant, hash, tester); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// oobFixture is how several authorize tests begin: user ada (password
// testPassword) in the default tenant, an out-of-band client allowed
// demo.read, a browser on the authorize page, and the implicit-grant
// parameters that client sends.
func oobFixture(t *testing.T, driver string) (*fixture, *browser, url.Values) {
	t.Helper()
	f := newFixture(t, driver)
	f.authUser(store.DefaultTenantID, "ada")
	c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
	_, b := f.authorize(t)
	return f, b, implicitParams(c.ID, OOB, "demo.read")
}

func implicitParams(clientID, redirect, scopeList string) url.Values {
	return url.Values{"response_type": {"token"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"state": {"1"}, "scope": {scopeList}}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Imagen's documented flow: GET with response_type=token and the oob
// redirect shows the sign-in page; a wrong password shows the error next
// to the field; signing in shows the consent page with each scope's
// description; Allow shows the token page with state; the token is a
// 3-legged token of the user. The next authorization skips both pages; a
// wider scope asks again.
func TestAuthorizeImplicitOOB(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write", "user.only"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read demo.write")

		body := page(t, b.get(params), http.StatusOK, `name="username"`, `name="password"`, `value="demo.read demo.write"`, c.Name)
		if strings.Contains(body, "Wrong username") {
			t.Fatal("the first page shows an error")
		}
		page(t, b.login(params, "ada", "wrong password!"), http.StatusUnauthorized, "Wrong username or password.", `id="password-error"`, `value="ada"`)
		if logged := f.loggedText(); !strings.Contains(logged, "sign-in failed") || strings.Contains(logged, "wrong password!") {
			t.Fatalf("the failed sign-in is not logged, or its password is: %s", logged)
		}
		page(t, b.login(params, "nobody", testPassword), http.StatusUnauthorized, "Wrong username or password.")
		if b.cookies[LoginCookie] != nil {
			t.Fatal("a failed sign-in set a cookie")
		}
		consent := b.login(params, "ada", testPassword)
		page(t, consent, http.StatusOK, "demo.read", "Read demo data", "demo.write", "Change demo data", `value="approve"`, `value="deny"`)
		if b.cookies[LoginCookie] == nil || !b.cookies[LoginCookie].HttpOnly {
			t.Fatalf("no HttpOnly %s cookie after sign-in: %v", LoginCookie, b.cookies)
		}
		done := b.decide(params, consent, "approve")
		body = page(t, done, http.StatusOK, `id="token"`, `id="state">1<`, `id="expires-in"`)
		tok := between(body, `id="token" readonly value="`, `"`)
		if strings.Contains(f.loggedText(), tok) || strings.Contains(f.loggedText(), testPassword) {
			t.Fatal("a token or password was logged")
		}
		claims := f.verify(t, tok)
		if claims.Subject != u.ID || claims.Legs != 3 || claims.ClientID != c.ID || claims.Scope != "demo.read demo.write" {
			t.Fatalf("token claims %+v", claims)
		}

		// Remembered: opened from the address bar, straight to the token
		// page, for the same or fewer scopes.
		page(t, b.getFrom(implicitParams(c.ID, OOB, "demo.read"), "none"), http.StatusOK, `id="token"`)
		// A scope not approved yet asks again.
		page(t, b.get(implicitParams(c.ID, OOB, "demo.read user.only")), http.StatusOK, `value="approve"`, "user.only")
		// Revoking the consent asks again.
		if err := f.app.Store().RevokeConsent(context.Background(), u.ID, c.ID, tester); err != nil {
			t.Fatal(err)
		}
		page(t, b.get(params), http.StatusOK, `value="approve"`)
		// A password reset ends the sign-in: the next request asks again.
		if err := f.app.Store().SetUserPassword(context.Background(), u.ID, u.TenantID, "$2a$04$reset", tester); err != nil {
			t.Fatal(err)
		}
		page(t, b.get(params), http.StatusOK, `name="password"`)
	})
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:strings.Index(s, end)]
}

// The implicit grant with an https redirect: approval is a 302 whose
// fragment carries access_token, token_type, expires_in, scope and state;
// the consent page's CSP lets the form post lead there.
func TestAuthorizeImplicitRedirect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, "", "")
		params.Del("redirect_uri") // the single registered one is used
		consent := b.login(params, "ada", testPassword)
		page(t, consent, http.StatusOK, "demo.read")
		if csp := consent.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.test;") {
			t.Fatalf("CSP does not allow the redirect origin: %s", csp)
		}
		v := redirected(t, b.decide(params, consent, "approve"), appRedirect+"#", true)
		if v.Get("token_type") != "Bearer" || v.Get("state") != "1" || v.Get("scope") != "demo.read" || v.Get("expires_in") == "" {
			t.Fatalf("fragment %v", v)
		}
		f.verify(t, v.Get("access_token"))
	})
}

// A redirect URI stored before hosts were checked, its host holding CSP
// syntax (';' starts a new directive), never reaches the consent page's
// Content-Security-Policy: form-action stays 'self' alone.
func TestAuthorizeCSPSkipsAMalformedRedirectHost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		bad := "https://a.example;script-src/cb"
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{bad}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, "", "")
		params.Del("redirect_uri")
		consent := b.login(params, "ada", testPassword)
		page(t, consent, http.StatusOK, "demo.read")
		csp := consent.Header().Get("Content-Security-Policy")
		if strings.Contains(csp, "script-src") || strings.Contains(csp, "a.example") || !strings.Contains(csp, "form-action 'self';") {
			t.Fatalf("CSP with a malformed redirect host: %s", csp)
		}
	})
}

// The client's and the user's names are isolated (<bdi>) on the pages: a
// name stored before bidirectional controls were refused cannot reverse the
// page's own sentence around it.
func TestAuthorizePagesIsolateNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		name := "Evil \u202egnp.exe"
		c, _ := f.client(store.Client{Name: name, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, "", "")
		params.Del("redirect_uri")
		consent := page(t, b.login(params, "ada", testPassword), http.StatusOK, "demo.read")
		for _, want := range []string{"Allow <bdi>" + name + "</bdi> to access", `<bdi><strong id="user">ada</strong></bdi>`, "<bdi>" + name + "</bdi> asks to"} {
			if !strings.Contains(consent, want) {
				t.Errorf("the consent page lacks %q", want)
			}
		}
	})
}

// An unknown, missing or disabled client, an unregistered or ambiguous
// redirect URI, a repeated client_id or redirect_uri and a malformed query
// never redirect: a 400 error page.
func TestAuthorizeNeverRedirects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		two, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect, OOB}})
		none, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		off, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		if err := f.app.Store().SetClientDisabled(context.Background(), off.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		_, b := f.authorize(t)
		for name, tc := range map[string]struct {
			params url.Values
			want   string
		}{
			"no client_id":       {url.Values{"response_type": {"token"}}, "client_id is missing"},
			"unknown client":     {implicitParams("sg_nope", appRedirect, ""), "no application with this client_id"},
			"disabled client":    {implicitParams(off.ID, appRedirect, ""), "disabled"},
			"unregistered":       {implicitParams(c.ID, "https://evil.test/cb", ""), "not registered"},
			"prefix of one":      {implicitParams(c.ID, appRedirect+"/more", ""), "not registered"},
			"two registered":     {url.Values{"response_type": {"token"}, "client_id": {two.ID}}, "must name one"},
			"none registered":    {url.Values{"response_type": {"token"}, "client_id": {none.ID}}, "no registered redirect"},
			"repeated client_id": {url.Values{"client_id": {c.ID, c.ID}, "response_type": {"token"}}, "repeats the client_id"},
			"repeated redirect":  {url.Values{"client_id": {c.ID}, "redirect_uri": {appRedirect, appRedirect}}, "repeats the redirect_uri"},
		} {
			t.Run(name, func(t *testing.T) {
				page(t, b.get(tc.params), http.StatusBadRequest, tc.want)
			})
		}
		// A query with a malformed pair is refused, not read in part (the
		// scope dropped, a client's defaults granted instead).
		base := "response_type=token&client_id=" + c.ID + "&redirect_uri=" + url.QueryEscape(appRedirect)
		for _, bad := range []string{"&scope=demo.read%zz", "&state=x%zz", "&scope=demo.read;x=1"} {
			rec := b.serve(httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+base+bad, nil))
			page(t, rec, http.StatusBadRequest, "malformed")
		}
		// Other methods are refused.
		rec := b.serve(httptest.NewRequest(http.MethodPut, "/oauth/authorize", nil))
		page(t, rec, http.StatusMethodNotAllowed)
		if rec.Header().Get("Allow") != "GET, POST" {
			t.Fatalf("Allow = %q", rec.Header().Get("Allow"))
		}
	})
}

// Errors after the client and redirect are known go back to the redirect
// URI with error, error_description and state: in the fragment for
// response_type=token, in the query for code (RFC 6749 §4.1.2.1, §4.2.2.1);
// for the oob redirect they are shown on the page. A repeated parameter the
// flow reads is such an error; one it does not read is ignored.
func TestAuthorizeErrorsGoBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "global"}, RedirectURIs: store.Strings{appRedirect, OOB}})
		noImplicit, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}, DisableImplicit: true})
		// A client that acts on behalf of users keeps its tokens: none is
		// handed to a user who signs in (either response type).
		acting, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}, AllowImpersonation: true})
		_, b := f.authorize(t)
		code := func(kv ...string) url.Values {
			v := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {appRedirect}, "state": {"xyz"}}
			for i := 0; i < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}
		for name, tc := range map[string]struct {
			params   url.Values
			fragment bool
			err      string
		}{
			"missing response_type":  {func() url.Values { v := code(); v.Del("response_type"); return v }(), false, "invalid_request"},
			"unknown response_type":  {code("response_type", "id_token"), false, "unsupported_response_type"},
			"implicit turned off":    {implicitParams(noImplicit.ID, appRedirect, "demo.read"), true, "unauthorized_client"},
			"implicit, impersonator": {implicitParams(acting.ID, appRedirect, "demo.read"), true, "unauthorized_client"},
			"code, impersonator":     {code("client_id", acting.ID, "scope", "demo.read"), false, "unauthorized_client"},
			"plain PKCE":             {code("code_challenge", s256("v"), "code_challenge_method", "plain"), false, "invalid_request"},
			"challenge, no method":   {code("code_challenge", s256("v")), false, "invalid_request"},
			"method, no challenge":   {code("code_challenge_method", "S256"), false, "invalid_request"},
			"malformed challenge":    {code("code_challenge", "short", "code_challenge_method", "S256"), false, "invalid_request"},
			"unknown scope":          {code("scope", "nope"), false, "invalid_scope"},
			"unassigned scope":       {code("scope", "demo.write"), false, "invalid_scope"},
			"2-legged scope":         {code("scope", "global"), false, "invalid_scope"},
			"implicit unknown scope": {implicitParams(c.ID, appRedirect, "nope"), true, "invalid_scope"},
			"repeated state":         {func() url.Values { v := code(); v["state"] = []string{"a", "b"}; return v }(), false, "invalid_request"},
		} {
			t.Run(name, func(t *testing.T) {
				v := redirected(t, b.get(tc.params), appRedirect, tc.fragment)
				if v.Get("error") != tc.err || v.Get("error_description") == "" {
					t.Fatalf("error %v, want %s with a description", v, tc.err)
				}
				if st := tc.params.Get("state"); v.Get("state") != st {
					t.Fatalf("state %q, want %q", v.Get("state"), st)
				}
			})
		}
		// The oob client's user sees the error on the page instead.
		page(t, b.get(implicitParams(c.ID, OOB, "nope")), http.StatusBadRequest, "invalid_scope", `id="state">1<`)
		// A parameter the flow does not read is ignored however often it
		// comes (RFC 6749 §3.1; RFC 8707 sends resource more than once):
		// the user is asked to sign in, and it is not carried in the form.
		v := code()
		v["resource"] = []string{"https://a.example", "https://b.example"}
		if rec := b.get(v); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "b.example") {
			t.Errorf("a code request with resource twice: %d, want the sign-in page without it\n%s", rec.Code, rec.Body.String())
		}
	})
}

// Deny sends access_denied back (query for a code), or says so on the oob
// page; consent is not remembered.
func TestAuthorizeDeny(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect + "?app=1", OOB}})
		_, b := f.authorize(t)
		params := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {appRedirect + "?app=1"}, "state": {"s"}}
		consent := b.login(params, "ada", testPassword)
		v := redirected(t, b.decide(params, consent, "deny"), appRedirect+"?app=1&", false)
		if v.Get("error") != "access_denied" || v.Get("state") != "s" || v.Get("app") != "1" {
			t.Fatalf("deny answered %v", v)
		}
		if _, err := f.app.Store().GetConsent(context.Background(), u.ID, c.ID); err == nil {
			t.Fatal("a denial was remembered as consent")
		}
		oob := implicitParams(c.ID, OOB, "demo.read")
		consent = b.get(oob)
		page(t, b.decide(oob, consent, "deny"), http.StatusOK, "access_denied", "You denied access")
		// Sign out from the consent page: the sign-in page again, no cookie.
		consent = b.get(oob)
		page(t, b.decide(oob, consent, "logout"), http.StatusOK, `name="password"`, "signed out")
		if b.cookies[LoginCookie] != nil {
			t.Fatal("sign-out kept the cookie")
		}
	})
}

// The consent and sign-in forms refuse posts from another origin and
// approvals without the session's CSRF token; an approval without a
// session shows the sign-in page; unknown actions are refused.
func TestAuthorizeCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		_, b, params := oobFixture(t, driver)

		b.origin = "https://evil.test"
		page(t, b.login(params, "ada", testPassword), http.StatusForbidden, "another site")
		if b.cookies[LoginCookie] != nil {
			t.Fatal("a cross-site sign-in set a cookie")
		}
		b.origin = "http://example.com"
		consent := b.login(params, "ada", testPassword)
		page(t, consent, http.StatusOK, `value="approve"`)

		b.origin = "https://evil.test"
		page(t, b.decide(params, consent, "approve"), http.StatusForbidden, "another site")
		b.origin = "http://example.com"
		form := clone(params)
		form.Set("action", "approve")
		form.Set("csrf", "forged")
		page(t, b.post(form), http.StatusForbidden, "another site")
		form.Set("action", "explode")
		page(t, b.post(form), http.StatusBadRequest, "Unknown form action")

		// Without the cookie, an approval asks to sign in.
		jar := b.cookies
		b.cookies = map[string]*http.Cookie{}
		page(t, b.decide(params, consent, "approve"), http.StatusOK, `name="password"`, "expired")
		b.cookies = jar
		// The real approval still works, so the refusals changed nothing.
		page(t, b.decide(params, consent, "approve"), http.StatusOK, `id="token"`)
	})
}

// Sign-ins are throttled per tenant and username: five wrong passwords are
// checked, then even the right password waits, with a message saying how
// long and Retry-After.
// Users of another tenant and disabled users cannot sign in.
func TestAuthorizeLoginRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		f.tenant("acme")
		f.authUser("acme", "bob")
		off := f.authUser(store.DefaultTenantID, "carol")
		off.Disabled = true
		if err := f.app.Store().UpdateUserProfile(context.Background(), off, off.TenantID, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read")
		page(t, b.login(params, "bob", testPassword), http.StatusUnauthorized, "Wrong username or password.")
		page(t, b.login(params, "carol", testPassword), http.StatusUnauthorized, "Wrong username or password.")
		page(t, b.login(params, "", ""), http.StatusUnauthorized, "Wrong username or password.")

		for range 5 { // five are free; the fifth starts the wait
			page(t, b.login(params, "ada", "not the password"), http.StatusUnauthorized, "Wrong username or password.")
		}
		rec := b.login(params, "ada", testPassword)
		page(t, rec, http.StatusTooManyRequests, "Too many attempts. Wait ", " seconds and try again.")
		if rec.Header().Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		if b.cookies[LoginCookie] != nil {
			t.Fatal("a throttled sign-in set a cookie")
		}
	})
}

// The code flow with PKCE: a code comes back in the query with state; the
// token endpoint redeems it once for an access token and a refresh token;
// every mismatch is invalid_grant. A public client redeems with client_id
// and code_verifier; a confidential client authenticates with its secret,
// with PKCE or without.
func TestAuthorizationCodeGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.authUser(store.DefaultTenantID, "ada")
		pub, _ := f.client(store.Client{AuthMethod: store.AuthUser, Public: true, AllowedScopes: store.Strings{"demo.read", "demo.write"},
			RedirectURIs: store.Strings{appRedirect, OOB}})
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read", "demo.write"},
			RedirectURIs: store.Strings{appRedirect, OOB}})
		other, otherSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		a, b := f.authorize(t)
		verifier := "a-verifier-that-is-long-enough-to-be-valid-0123456789"
		getCode := func(client *store.Client, challenge string) string {
			t.Helper()
			params := url.Values{"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {appRedirect},
				"state": {"st"}, "scope": {"demo.read demo.write"}}
			if challenge != "" {
				params.Set("code_challenge", challenge)
				params.Set("code_challenge_method", "S256")
			}
			rec := b.get(params)
			if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `id="sign-in"`) { // sign in once
				rec = b.login(params, "ada", testPassword)
			}
			if rec.Code == http.StatusOK { // approve once per client
				rec = b.decide(params, rec, "approve")
			}
			v := redirected(t, rec, appRedirect+"?", false)
			if v.Get("state") != "st" || v.Get("code") == "" {
				t.Fatalf("code answer %v", v)
			}
			return v.Get("code")
		}
		redeem := func(kv ...string) result {
			form := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {appRedirect}}
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == "" {
					form.Del(kv[i])
				} else {
					form.Set(kv[i], kv[i+1])
				}
			}
			return serve(t, f.ep, formRequest(form))
		}

		// A public client with PKCE and its client_id alone.
		code := getCode(pub, s256(verifier))
		res := redeem("code", code, "client_id", pub.ID, "code_verifier", verifier)
		if res.Status != 200 || res.str("refresh_token") == "" || res.str("scope") != "demo.read demo.write" {
			t.Fatalf("redeem: %d %s", res.Status, res.Raw)
		}
		if claims := f.verify(t, res.str("access_token")); claims.Subject != u.ID || claims.Legs != 3 {
			t.Fatalf("claims %+v", claims)
		}
		if strings.Contains(f.loggedText(), code) || strings.Contains(f.loggedText(), res.str("refresh_token")) {
			t.Fatal("a code or refresh token was logged")
		}
		f.refuse(t, f.ep, formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {pub.ID},
			"code_verifier": {verifier}, "redirect_uri": {appRedirect}}), 400, "invalid_grant") // reused

		for name, kv := range map[string][]string{
			"wrong verifier":     {"client_id", pub.ID, "code_verifier", verifier + "x"},
			"missing verifier":   {"client_id", pub.ID},
			"wrong redirect_uri": {"client_id", pub.ID, "code_verifier", verifier, "redirect_uri", "https://app.test/other"},
			"missing redirect":   {"client_id", pub.ID, "code_verifier", verifier, "redirect_uri", ""},
			"another client":     {"client_id", other.ID, "client_secret", otherSecret, "code_verifier", verifier},
		} {
			t.Run(name, func(t *testing.T) {
				res := redeem(append([]string{"code", getCode(pub, s256(verifier))}, kv...)...)
				if res.Status != 400 || res.str("error") != "invalid_grant" {
					t.Fatalf("%d %s, want invalid_grant", res.Status, res.Raw)
				}
			})
		}
		if res := redeem("code", getCode(pub, s256(verifier)), "client_id", pub.ID, "client_secret", "wrong", "code_verifier", verifier); res.Status != 401 || res.str("error") != "invalid_client" {
			t.Fatalf("public client with a wrong secret: %s", res.Raw)
		}
		if res := redeem("code", getCode(pub, s256(verifier)), "client_id", "sg_nope", "code_verifier", verifier); res.Status != 401 || res.str("error") != "invalid_client" {
			t.Fatalf("unknown public client: %s", res.Raw)
		}

		// A confidential client always authenticates, with PKCE too.
		if res := redeem("code", getCode(c, s256(verifier)), "client_id", c.ID, "code_verifier", verifier); res.Status != 401 || res.str("error") != "invalid_client" {
			t.Fatalf("confidential client without its secret: %s", res.Raw)
		}
		if res := redeem("code", getCode(c, s256(verifier)), "client_id", c.ID, "client_secret", secret, "code_verifier", verifier); res.Status != 200 || res.str("refresh_token") == "" {
			t.Fatalf("confidential client with PKCE and its secret: %s", res.Raw)
		}
		if res := redeem("code", getCode(c, ""), "client_id", c.ID); res.Status != 401 || res.str("error") != "invalid_client" {
			t.Fatalf("confidential client without a secret or PKCE: %s", res.Raw)
		}
		if res := redeem("code", getCode(c, ""), "client_id", c.ID, "client_secret", "wrong"); res.Status != 401 || res.str("error") != "invalid_client" {
			t.Fatalf("wrong secret: %s", res.Raw)
		}
		if res := redeem("code", getCode(c, ""), "client_id", c.ID, "client_secret", secret, "code_verifier", verifier); res.str("error") != "invalid_grant" {
			t.Fatalf("verifier without a challenge: %s", res.Raw)
		}
		if res := redeem("code", getCode(c, ""), "client_id", c.ID, "client_secret", secret); res.Status != 200 || res.str("refresh_token") == "" {
			t.Fatalf("confidential client: %s", res.Raw)
		}
		if res := redeem("code", "made-up", "client_id", c.ID, "client_secret", secret); res.str("error") != "invalid_grant" {
			t.Fatalf("unknown code: %s", res.Raw)
		}
		if res := redeem("client_id", c.ID, "client_secret", secret); res.str("error") != "invalid_request" {
			t.Fatalf("no code: %s", res.Raw)
		}
		// Expired.
		a.CodeLifetime = caddy.Duration(time.Millisecond)
		expired := getCode(pub, s256(verifier))
		time.Sleep(5 * time.Millisecond)
		if res := redeem("code", expired, "client_id", pub.ID, "code_verifier", verifier); res.str("error") != "invalid_grant" {
			t.Fatalf("expired code: %s", res.Raw)
		}
		a.CodeLifetime = caddy.Duration(time.Minute)
		// A user disabled since approving gets nothing.
		code = getCode(pub, s256(verifier))
		u.Disabled = true
		if err := f.app.Store().UpdateUserProfile(context.Background(), u, u.TenantID, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		if res := redeem("code", code, "client_id", pub.ID, "code_verifier", verifier); res.str("error") != "invalid_grant" {
			t.Fatalf("disabled user: %s", res.Raw)
		}
	})
}

// Refresh tokens rotate on every use; a rotated one used again revokes the
// family (its successor stops working too); scope may narrow, never widen;
// another client's refresh token is refused, and stays usable by its own
// client.
func TestRefreshTokenGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write"}, RedirectURIs: store.Strings{appRedirect}})
		other, otherSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		_, b := f.authorize(t)
		params := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "scope": {"demo.read demo.write"}}
		v := redirected(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), appRedirect+"?", false)
		res := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {v.Get("code")}}), c.ID, secret))
		first := res.str("refresh_token")
		if res.Status != 200 || first == "" {
			t.Fatalf("redeem: %s", res.Raw)
		}
		refresh := func(id, sec, tok, scope string) result {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}
			if scope != "" {
				form.Set("scope", scope)
			}
			return serve(t, f.ep, withBasic(formRequest(form), id, sec))
		}
		r1 := refresh(c.ID, secret, first, "demo.read")
		second := r1.str("refresh_token")
		if r1.Status != 200 || second == "" || second == first || r1.str("scope") != "demo.read" {
			t.Fatalf("narrowed refresh: %s", r1.Raw)
		}
		// The family keeps its scopes: the next refresh may ask for both again.
		r2 := refresh(c.ID, secret, second, "")
		third := r2.str("refresh_token")
		if r2.Status != 200 || r2.str("scope") != "demo.read demo.write" {
			t.Fatalf("refresh with the family's scopes: %s", r2.Raw)
		}
		if r := refresh(c.ID, secret, third, "demo.read demo.admin"); r.str("error") != "invalid_scope" {
			t.Fatalf("widened scope: %s", r.Raw)
		}
		// third was used by the refused request; reuse revokes the family.
		if r := refresh(c.ID, secret, second, ""); r.str("error") != "invalid_grant" || !strings.Contains(r.str("error_description"), "already used") {
			t.Fatalf("reuse: %s", r.Raw)
		}
		if r := refresh(c.ID, secret, third, ""); r.str("error") != "invalid_grant" {
			t.Fatalf("successor after reuse: %s", r.Raw)
		}
		if r := refresh(c.ID, secret, "made-up", ""); r.str("error") != "invalid_grant" {
			t.Fatalf("unknown: %s", r.Raw)
		}
		if r := refresh(c.ID, secret, "", ""); r.str("error") != "invalid_request" {
			t.Fatalf("missing: %s", r.Raw)
		}
		// A fresh family presented by another client is refused and left as
		// it was: the other client cannot burn it (TestRefreshTokenOnlyItsClient).
		v = redirected(t, b.get(params), appRedirect+"?", false)
		res = serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {v.Get("code")}}), c.ID, secret))
		stolen := res.str("refresh_token")
		if r := refresh(other.ID, otherSecret, stolen, ""); r.str("error") != "invalid_grant" {
			t.Fatalf("another client: %s", r.Raw)
		}
		if r := refresh(c.ID, "wrong", stolen, ""); r.Status != 401 {
			t.Fatalf("wrong secret: %s", r.Raw)
		}
		if r := refresh(c.ID, secret, stolen, ""); r.Status != 200 {
			t.Fatalf("another client's attempt burnt the family: %s", r.Raw)
		}
	})
}

// `scopegate authorize` takes session_ttl and code_lifetime and rejects
// anything else.
func TestParseAuthorize(t *testing.T) {
	got, err := parseScopegate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("scopegate authorize {\n session_ttl 1h\n code_lifetime 30s\n}")})
	if err != nil {
		t.Fatal(err)
	}
	a := got.(*Authorize)
	if a.SessionTTL != caddy.Duration(time.Hour) || a.CodeLifetime != caddy.Duration(30*time.Second) {
		t.Fatalf("parsed %+v", a)
	}
	for input, want := range map[string]string{
		"scopegate authorize now":                                    "wrong argument count",
		"scopegate authorize {\n lifetime 1h\n}":                     `unknown authorize option "lifetime"`,
		"scopegate authorize {\n session_ttl 1h\n session_ttl 2h\n}": `duplicate option "session_ttl"`,
		"scopegate authorize {\n session_ttl\n}":                     "wrong argument count",
		"scopegate authorize {\n session_ttl 1h 2h\n}":               "wrong argument count",
		"scopegate authorize {\n session_ttl soon\n}":                "not a positive duration",
		"scopegate authorize {\n code_lifetime -1s\n}":               "not a positive duration",
		"scopegate authorize {\n code_lifetime 1h\n}":                "codes must be short-lived",
	} {
		_, err := parseScopegate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(input)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", input, err, want)
		}
	}
}

// RFC 7009 with a refresh token: its owner revokes the whole grant (the
// token and its successors stop working); another client is refused; an
// unknown token is answered 200 (nothing to revoke).
func TestRevokeRefreshToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		other, otherSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		_, b := f.authorize(t)
		params := url.Values{"response_type": {"code"}, "client_id": {c.ID}}
		v := redirected(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), appRedirect+"?", false)
		res := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {v.Get("code")}}), c.ID, secret))
		first := res.str("refresh_token")
		next := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}), c.ID, secret)).str("refresh_token")
		if first == "" || next == "" {
			t.Fatalf("no refresh tokens: %s", res.Raw)
		}
		rv := &Revocation{app: f.app, logger: f.log}
		revoke := func(id, sec, tok string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			if err := rv.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}), id, sec), nil); err != nil {
				t.Fatal(err)
			}
			return rec
		}
		if rec := revoke(other.ID, otherSecret, first); rec.Code != 400 || !strings.Contains(rec.Body.String(), "unauthorized_client") {
			t.Fatalf("another client's revocation: %d %s", rec.Code, rec.Body.String())
		}
		if rec := revoke(c.ID, secret, "made-up"); rec.Code != 200 {
			t.Fatalf("unknown token: %d", rec.Code)
		}
		if rec := revoke(c.ID, secret, first); rec.Code != 200 { // the retired one names the grant too
			t.Fatalf("revocation: %d %s", rec.Code, rec.Body.String())
		}
		r := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}}), c.ID, secret))
		if r.str("error") != "invalid_grant" {
			t.Fatalf("refresh after revocation: %s", r.Raw)
		}
	})
}

// Behind handle_path the pages post back to the path the browser asked for,
// not the stripped one.
func TestAuthorizeFormPathBehindHandlePath(t *testing.T) {
	f := newFixture(t, store.SQLite)
	c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
	_, b := f.authorize(t)
	q := implicitParams(c.ID, OOB, "demo.read").Encode()
	orig := httptest.NewRequest(http.MethodGet, "/sso/oauth/authorize?"+q, nil)
	r := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+q, nil)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, *orig))
	page(t, b.serve(r), http.StatusOK, `action="/sso/oauth/authorize"`)
	page(t, b.get(implicitParams(c.ID, OOB, "demo.read")), http.StatusOK, `action="/oauth/authorize"`)
}

// HEAD is refused with 405 and Allow: GET, POST, even when the user is
// signed in and already approved: it issues no code or token and spends
// nothing of the daily allowance.
func TestAuthorizeHeadRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}, TokenLifetimeMinutes: 1, MaxMinutesPerDay: 60})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, appRedirect, "demo.read")
		redirected(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), appRedirect+"#", true)
		used := func() int64 {
			var n int64
			if err := f.app.Store().DB.Model(&store.DailyUsage{}).Select("COALESCE(SUM(seconds_used), 0)").Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := used()
		rec := b.serve(httptest.NewRequest(http.MethodHead, "/oauth/authorize?"+params.Encode(), nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, POST" || rec.Header().Get("Location") != "" {
			t.Fatalf("HEAD: %d Allow %q Location %q", rec.Code, rec.Header().Get("Allow"), rec.Header().Get("Location"))
		}
		if after := used(); after != before {
			t.Fatalf("HEAD spent allowance: %d → %d seconds", before, after)
		}
		// The same request as GET still answers straight away, so the
		// refusal above is the method's doing.
		redirected(t, b.get(params), appRedirect+"#", true)
	})
}

// The sign-in cookie is scoped to the authorize endpoint's path (the one
// the browser used, behind handle_path too), never "/", so reverse_proxy
// routes on the same host do not receive it; sign-out expires it at that
// same path.
func TestAuthorizeCookiePath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		params := implicitParams(c.ID, OOB, "demo.read")
		cookieOf := func(rec *httptest.ResponseRecorder) *http.Cookie {
			t.Helper()
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == LoginCookie {
					return ck
				}
			}
			t.Fatalf("no %s cookie set: %v", LoginCookie, rec.Header())
			return nil
		}

		_, b := f.authorize(t)
		consent := b.login(params, "ada", testPassword)
		if p := cookieOf(consent).Path; p != "/oauth/authorize" {
			t.Fatalf("sign-in cookie path %q, want /oauth/authorize", p)
		}
		out := b.decide(params, consent, "logout")
		if ck := cookieOf(out); ck.Path != "/oauth/authorize" || ck.MaxAge >= 0 {
			t.Fatalf("sign-out cookie %+v, want expired at /oauth/authorize", ck)
		}

		// Behind handle_path /sso/*: the path the browser asked for.
		_, b = f.authorize(t)
		behind := func(r *http.Request) *http.Request {
			orig := httptest.NewRequest(r.Method, "/sso"+r.URL.RequestURI(), nil)
			return r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, *orig))
		}
		signIn := b.serve(behind(httptest.NewRequest(http.MethodGet, "/oauth/authorize/?"+params.Encode(), nil)))
		if ck := b.cookies[LoginCSRFCookie]; ck == nil || ck.Path != "/sso/oauth/authorize" {
			t.Fatalf("sign-in form's CSRF cookie behind handle_path %+v, want path /sso/oauth/authorize", ck)
		}
		form := clone(params)
		form.Set("action", "login")
		form.Set("csrf", csrfOf(t, signIn.Body.String()))
		form.Set("username", "ada")
		form.Set("password", testPassword)
		r := httptest.NewRequest(http.MethodPost, "/oauth/authorize/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", b.origin)
		if p := cookieOf(b.serve(behind(r))).Path; p != "/sso/oauth/authorize" {
			t.Fatalf("sign-in cookie path behind handle_path %q, want /sso/oauth/authorize", p)
		}
	})
}

// The sign-in form carries its own CSRF token (there is no session yet):
// a sign-in post without the token, with a wrong one, without the token's
// cookie, or with neither Origin nor Referer is refused with 403 and signs
// nobody in; the page's token with its cookie signs in.
func TestAuthorizeSignInCSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		_, b, params := oobFixture(t, driver)
		token := csrfOf(t, page(t, b.get(params), http.StatusOK, `id="sign-in"`))
		if ck := b.cookies[LoginCSRFCookie]; ck == nil || !ck.HttpOnly || ck.Path != "/oauth/authorize" || strings.Contains(ck.Value, token) {
			t.Fatalf("sign-in CSRF cookie %+v", ck)
		}
		form := func(csrf string) url.Values {
			v := clone(params)
			v.Set("action", "login")
			v.Set("username", "ada")
			v.Set("password", testPassword)
			if csrf != "" {
				v.Set("csrf", csrf)
			}
			return v
		}
		page(t, b.post(form("")), http.StatusForbidden, "another site")
		page(t, b.post(form("forged")), http.StatusForbidden, "another site")
		csrfCookie := b.cookies[LoginCSRFCookie]
		delete(b.cookies, LoginCSRFCookie)
		page(t, b.post(form(token)), http.StatusForbidden, "another site")
		b.cookies[LoginCSRFCookie] = csrfCookie
		b.origin = ""
		page(t, b.post(form(token)), http.StatusForbidden, "another site")
		if b.cookies[LoginCookie] != nil {
			t.Fatal("a refused sign-in set the sign-in cookie")
		}
		b.origin = "http://example.com"
		page(t, b.post(form(token)), http.StatusOK, `value="approve"`)
		if b.cookies[LoginCookie] == nil {
			t.Fatal("the sign-in with the page's token set no cookie")
		}
	})
}

// Signing out on the consent page ends the sign-in on the server: a copy of
// the cookie taken before gets the sign-in page again, and its approval is
// refused (sign in again, nothing issued).
func TestAuthorizeSignOutEndsSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f, b, params := oobFixture(t, driver)
		consent := b.login(params, "ada", testPassword)
		page(t, consent, http.StatusOK, `value="approve"`)
		_, thief := f.authorize(t)
		thief.a = b.a
		thief.cookies[LoginCookie] = b.cookies[LoginCookie]
		page(t, thief.get(params), http.StatusOK, `value="approve"`)

		page(t, b.decide(params, consent, "logout"), http.StatusOK, "signed out")
		page(t, thief.get(params), http.StatusOK, `name="password"`)
		page(t, thief.decide(params, consent, "approve"), http.StatusOK, `name="password"`, "expired")
	})
}
