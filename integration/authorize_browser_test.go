package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

const (
	chromiumPath = "/usr/bin/chromium"
	userPassword = "correct horse battery"
)

// chrome starts a headless Chromium for the test. It is never skipped: CI
// installs Chromium (.ci/run), and a browser test that silently does not
// run proves nothing.
func chrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed at %s (apt-get install -y chromium; .ci/run does it): %v", chromiumPath, err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The https redirect test's client is an httptest TLS server with a
		// certificate no CA signed.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, without a timeout
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds one browser step. Steps wait on events (a page
// loaded, an element visible), never on the clock, so the bound is only
// there to end a step that can never succeed, and is generous: on a busy
// 2-core machine (the CI runner shared with other jobs) a sign-in alone,
// a bcrypt check at the real cost under the race detector, may take
// seconds, and Chromium itself gets little CPU. A wrong password now costs
// as much as a right one, for unknown users too.
const stepTimeout = 3 * time.Minute

// step runs browser actions with a timeout and fails the test on error.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		// What the page shows, to tell why; bounded too, since a page that
		// broke the step may not answer either.
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(dctx, chromedp.Location())
		body, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v (at %s) %s", what, err, loc, body)
	}
}

// read runs one browser action that returns a value.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the page at desktop and phone width under
// integration/artifacts/ (gitignored), for people to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := filepath.Join("artifacts", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		label         string
		width, height int64
		opts          []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 800, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)}},
	} {
		step(t, ctx, "resize to "+size.label, chromedp.EmulateViewport(size.width, size.height, size.opts...))
		png := read(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.label+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step(t, ctx, "back to desktop width", chromedp.EmulateViewport(1280, 800))
}

// Imagen's documented installed-application flow in a real browser: the
// admin API creates a user with a password and a client registered for the
// oob redirect; the browser opens the URL exactly as documented, is told
// its wrong password next to the field, signs in, sees both scopes with
// their descriptions, approves and reads the token and state=1 from the
// page; the token calls a guarded route as that user. For the client's
// registered https redirect the token comes back in the URL fragment, which
// the client's server never sees, and a code requested with PKCE reaches
// that server, which redeems it. A wrong redirect
// URI gets an error page and never a visit; a consent form posted from
// another origin is refused.
func TestAuthorizeBrowserImagen(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		userID := createUser(t, g, admin, map[string]any{"username": "ada", "display_name": "Ada Lovelace", "password": userPassword})
		// The client's web callback: an https server that records what
		// reached it (a fragment never does).
		var callbackQueries []string
		var callbackMu sync.Mutex
		webApp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/cb" { // the browser's favicon.ico
				http.NotFound(w, r)
				return
			}
			callbackMu.Lock()
			callbackQueries = append(callbackQueries, r.URL.RawQuery)
			callbackMu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><p id="callback">signed in</p>`)
		}))
		defer webApp.Close()
		callback := webApp.URL + "/cb"
		// Made with the bootstrap client's token, the key names the user it
		// is tied to (imagen.Caddyfile ties every key to a user).
		clientID, clientSecret := createClient(t, g, admin, map[string]any{"name": "Desktop Importer", "connect_as_user_id": userID,
			"scopes": []string{"readUsersData", "modifyUsersData"}, "redirect_uris": []string{"urn:ietf:wg:oauth:2.0:oob", callback}})
		ctx := chrome(t)

		documented := g.URL + "/oauth/authorize?response_type=token&client_id=" + clientID +
			"&redirect_uri=urn:ietf:wg:oauth:2.0:oob&state=1&scope=readUsersData modifyUsersData"
		step(t, ctx, "open the documented URL", chromedp.Navigate(documented), chromedp.WaitVisible(chromedp.ID("username")))
		screenshot(t, ctx, "1-login")

		step(t, ctx, "sign in with a wrong password",
			chromedp.SendKeys(chromedp.ID("username"), "ada"),
			chromedp.SendKeys(chromedp.ID("password"), "not my password"),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("password-error")))
		if msg := read(t, ctx, "error text", chromedp.Text(chromedp.ID("password-error"))); msg != "Wrong username or password." {
			t.Fatalf("error next to the password: %q", msg)
		}
		// The message sits right after the password field, in its group.
		if next := read(t, ctx, "error placement", chromedp.Evaluate[string](
			`document.getElementById('password').nextElementSibling.id`)); next != "password-error" {
			t.Fatalf("the element after the password field is %q, want the error", next)
		}
		screenshot(t, ctx, "2-wrong-password")

		step(t, ctx, "sign in",
			chromedp.SendKeys(chromedp.ID("password"), userPassword),
			chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("approve")))
		scopes := read(t, ctx, "scopes", chromedp.Text(chromedp.ID("scopes")))
		for _, want := range []string{"readUsersData", "View records, media and collections available to the user who created the application",
			"modifyUsersData", "View and modify records, media and collections"} {
			if !strings.Contains(scopes, want) {
				t.Fatalf("consent page lacks %q: %s", want, scopes)
			}
		}
		if who := read(t, ctx, "user", chromedp.Text(chromedp.ID("user"))); who != "Ada Lovelace" {
			t.Fatalf("signed in as %q", who)
		}
		screenshot(t, ctx, "3-consent")

		step(t, ctx, "approve", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("token")))
		tok := read(t, ctx, "token", chromedp.Value(chromedp.ID("token")))
		if state := read(t, ctx, "state", chromedp.Text(chromedp.ID("state"))); state != "1" {
			t.Fatalf("state on the page: %q", state)
		}
		// The token is shown once, in the read-only field it is copied from.
		if n := read(t, ctx, "token shown", chromedp.Evaluate[int](
			`document.body.innerHTML.split(document.getElementById('token').value).length - 1`)); n != 1 || tok == "" {
			t.Fatalf("the token %q appears %d times on the page, want once", tok, n)
		}
		screenshot(t, ctx, "4-token")

		status, body, _ := call(t, "GET", g.URL+"/api/records", tok, nil)
		if status != http.StatusOK || body["user_id"] != userID || body["legs"] != "3" {
			t.Fatalf("guarded call with the browser's token: %d %v", status, body)
		}

		// The same approval for the registered https redirect: the token
		// comes back in the URL fragment (RFC 6749 §4.2.2), which the
		// browser keeps and never sends to the client's server.
		step(t, ctx, "authorize for the https redirect",
			chromedp.Navigate(g.URL+"/oauth/authorize?response_type=token&client_id="+clientID+
				"&redirect_uri="+url.QueryEscape(callback)+"&state=web-7&scope=readUsersData"),
			chromedp.WaitVisible(chromedp.ID("callback")))
		landed, err := url.Parse(read(t, ctx, "callback location", chromedp.Location()))
		if err != nil || landed.Scheme+"://"+landed.Host+landed.Path != callback {
			t.Fatalf("the browser landed on %v (%v), want %s", landed, err, callback)
		}
		frag, _ := url.ParseQuery(landed.Fragment)
		if frag.Get("state") != "web-7" || frag.Get("token_type") != "Bearer" || frag.Get("scope") != "readUsersData" || frag.Get("expires_in") == "" {
			t.Fatalf("fragment %q", landed.Fragment)
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", frag.Get("access_token"), nil); status != http.StatusOK || body["user_id"] != userID {
			t.Fatalf("guarded call with the fragment's token: %d %v", status, body)
		}
		callbackMu.Lock()
		if len(callbackQueries) != 1 || callbackQueries[0] != "" {
			t.Fatalf("the client's server saw queries %q", callbackQueries)
		}
		callbackMu.Unlock()

		// The code flow with PKCE in the browser: the code reaches the
		// client's server in the query, and the server redeems it with its
		// secret and the verifier.
		verifier := "browser-verifier-0123456789-0123456789-0123456789"
		sum := sha256.Sum256([]byte(verifier))
		step(t, ctx, "authorize a code",
			chromedp.Navigate(g.URL+"/oauth/authorize?response_type=code&client_id="+clientID+
				"&redirect_uri="+url.QueryEscape(callback)+"&state=code-8&scope=readUsersData&code_challenge_method=S256&code_challenge="+
				base64.RawURLEncoding.EncodeToString(sum[:])),
			chromedp.WaitVisible(chromedp.ID("callback")))
		callbackMu.Lock()
		got, _ := url.ParseQuery(callbackQueries[len(callbackQueries)-1])
		callbackMu.Unlock()
		if got.Get("state") != "code-8" || got.Get("code") == "" {
			t.Fatalf("the code redirect carried %v", got)
		}
		status, redeemed := basicForm(t, g, "/oauth/token", clientID, clientSecret, url.Values{"grant_type": {"authorization_code"},
			"code": {got.Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}})
		if status != http.StatusOK || redeemed["access_token"] == nil || redeemed["refresh_token"] == nil {
			t.Fatalf("redeeming the browser's code: %d %v", status, redeemed)
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", redeemed["access_token"].(string), nil); status != http.StatusOK || body["user_id"] != userID {
			t.Fatalf("guarded call with the code's token: %d %v", status, body)
		}

		// A redirect URI the client did not register never gets a visit.
		var visits atomic.Int32
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { visits.Add(1) }))
		defer elsewhere.Close()
		step(t, ctx, "open with a wrong redirect",
			chromedp.Navigate(g.URL+"/oauth/authorize?response_type=token&client_id="+clientID+
				"&redirect_uri="+url.QueryEscape(elsewhere.URL+"/cb")+"&state=1&scope=readUsersData"),
			chromedp.WaitVisible(chromedp.ID("message")))
		if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, g.URL+"/oauth/authorize") {
			t.Fatalf("the browser left the gateway: %s", loc)
		}
		if msg := read(t, ctx, "message", chromedp.Text(chromedp.ID("message"))); !strings.Contains(msg, "not registered") {
			t.Fatalf("error page says %q", msg)
		}
		screenshot(t, ctx, "5-error")
		if visits.Load() != 0 {
			t.Fatalf("the unregistered redirect was visited %d times", visits.Load())
		}

		// A page of another origin auto-submits an approval to the gateway:
		// refused, no token.
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/oauth/authorize">
<input type="hidden" name="response_type" value="token"><input type="hidden" name="client_id" value="%s">
<input type="hidden" name="redirect_uri" value="urn:ietf:wg:oauth:2.0:oob"><input type="hidden" name="scope" value="readUsersData modifyUsersData">
<input type="hidden" name="action" value="approve"><input type="hidden" name="csrf" value="guessed">
</form><script>document.getElementById('f').submit()</script>`, html.EscapeString(g.URL), html.EscapeString(clientID))
		}))
		defer attacker.Close()
		step(t, ctx, "cross-origin consent post", chromedp.Navigate(attacker.URL), chromedp.WaitVisible(chromedp.ID("message")))
		if msg := read(t, ctx, "message", chromedp.Text(chromedp.ID("message"))); !strings.Contains(msg, "another site") {
			t.Fatalf("cross-origin approval answered %q", msg)
		}
		if n := read(t, ctx, "token fields", chromedp.Evaluate[int](`document.querySelectorAll('#token').length`)); n != 0 {
			t.Fatal("a cross-origin approval got a token")
		}
	})
}

// goBrowser is an http.Client with cookies that stops at redirects, for the
// flows whose end is a redirect to the client.
func goBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(t *testing.T, c *http.Client, target, origin string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func hiddenValue(body, name string) string {
	marker := `name="` + name + `" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		return ""
	}
	rest := body[i+len(marker):]
	return html.UnescapeString(rest[:strings.IndexByte(rest, '"')])
}

// The code flow with PKCE through Caddy, as a public client: sign-in,
// consent (a post from another origin refused first), a 302 to the http
// redirect with code and state; the code is redeemed once for an access
// token (that calls a guarded route as the user) and a refresh token, and
// redeeming it again revokes both; on a second grant refresh rotates, and
// reusing a rotated token revokes the family.
// Discovery names the authorize endpoint, and golang.org/x/oauth2 runs the
// same flow (PKCE, exchange, refresh) unchanged.
func TestAuthorizeCodeFlowImagen(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		userID := createUser(t, g, admin, map[string]any{"username": "ada", "password": userPassword})
		redirect := "http://127.0.0.1:9/callback"
		// Public (token_endpoint_auth_method none): it redeems and refreshes
		// with its client_id alone, so PKCE is required.
		clientID, _ := createClient(t, g, admin, map[string]any{"name": "Web App", "auth_method": "user", "public": true,
			"scopes": []string{"readUsersData", "modifyUsersData"}, "redirect_uris": []string{redirect}})

		_, meta, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil)
		if meta["authorization_endpoint"] != fmt.Sprint(meta["issuer"])+"/oauth/authorize" ||
			!strings.Contains(fmt.Sprint(meta["token_endpoint_auth_methods_supported"]), "none") {
			t.Fatalf("discovery: %v", meta)
		}

		verifier := "pkce-verifier-" + strings.Repeat("x", 40)
		sum := sha256.Sum256([]byte(verifier))
		params := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "state": {"abc"},
			"scope": {"readUsersData"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
		c := goBrowser(t)
		endpoint := g.URL + "/oauth/authorize"
		resp, err := c.Get(endpoint + "?" + params.Encode())
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("authorize: %v %v", resp, err)
		}
		signIn, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		login := url.Values{"action": {"login"}, "username": {"ada"}, "password": {userPassword},
			"csrf": {hiddenValue(string(signIn), "csrf")}}
		for k, v := range params {
			login[k] = v
		}
		resp, consent := postForm(t, c, endpoint, g.URL, login)
		csrf := hiddenValue(consent, "csrf")
		if resp.StatusCode != 200 || csrf == "" {
			t.Fatalf("sign-in: %d %s", resp.StatusCode, consent)
		}
		approve := url.Values{"action": {"approve"}, "csrf": {csrf}}
		for k, v := range params {
			approve[k] = v
		}
		if resp, body := postForm(t, c, endpoint, "https://attacker.example", approve); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Fatalf("approval from another origin: %d %s", resp.StatusCode, body)
		}
		resp, _ = postForm(t, c, endpoint, g.URL, approve)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != "abc" {
			t.Fatalf("approval: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != "" && !strings.Contains(csp, "http://127.0.0.1:9") {
			t.Fatalf("CSP of the redirect: %s", csp)
		}
		code := loc.Query().Get("code")

		redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
			"client_id": {clientID}, "code_verifier": {verifier}}
		status, tokens := tokenForm(t, g, redeem)
		access, _ := tokens["access_token"].(string)
		refresh, _ := tokens["refresh_token"].(string)
		if status != 200 || access == "" || refresh == "" {
			t.Fatalf("redeem: %d %v", status, tokens)
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", access, nil); status != 200 || body["user_id"] != userID {
			t.Fatalf("guarded call: %d %v", status, body)
		}
		// Presenting the code again revokes what it produced (RFC 6749
		// §4.1.2): the guard refuses its access token, its refresh token is dead.
		if status, again := tokenForm(t, g, redeem); status != 400 || again["error"] != "invalid_grant" {
			t.Fatalf("second redemption: %d %v", status, again)
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", access, nil); status != 401 || body["error"] != "invalid_token" {
			t.Fatalf("guarded call after the code's reuse: %d %v", status, body)
		}
		if status, dead := tokenForm(t, g, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}}); status != 400 || dead["error"] != "invalid_grant" {
			t.Fatalf("refresh after the code's reuse: %d %v", status, dead)
		}

		// A new grant for the rotation checks: the consent is remembered,
		// so the authorize URL answers with a code straight away.
		resp, err = c.Get(endpoint + "?" + params.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("second authorization: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		redeem.Set("code", loc.Query().Get("code"))
		status, tokens = tokenForm(t, g, redeem)
		if refresh, _ = tokens["refresh_token"].(string); status != 200 || refresh == "" {
			t.Fatalf("second redeem: %d %v", status, tokens)
		}

		status, rotated := tokenForm(t, g, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}})
		next, _ := rotated["refresh_token"].(string)
		if status != 200 || next == "" || next == refresh {
			t.Fatalf("refresh: %d %v", status, rotated)
		}
		if status, reused := tokenForm(t, g, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}}); status != 400 || reused["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %v", status, reused)
		}
		if status, revoked := tokenForm(t, g, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}, "client_id": {clientID}}); status != 400 || revoked["error"] != "invalid_grant" {
			t.Fatalf("successor after reuse: %d %v", status, revoked)
		}

		// The same flow with golang.org/x/oauth2, a real client library: the
		// consent is remembered, so the authorize URL answers with the code.
		conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"readUsersData"},
			Endpoint: oauth2.Endpoint{AuthURL: endpoint, TokenURL: g.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
		libVerifier := oauth2.GenerateVerifier()
		resp, err = c.Get(conf.AuthCodeURL("lib-state", oauth2.S256ChallengeOption(libVerifier)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "lib-state" {
			t.Fatalf("x/oauth2 authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		ctx := context.Background()
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(libVerifier))
		if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
			t.Fatalf("x/oauth2 exchange: %+v %v", tok, err)
		}
		tok.Expiry = time.Now().Add(-time.Minute) // make the library refresh
		fresh, err := conf.TokenSource(ctx, tok).Token()
		if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
			t.Fatalf("x/oauth2 refresh: %+v %v", fresh, err)
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", fresh.AccessToken, nil); status != 200 || body["user_id"] != userID {
			t.Fatalf("guarded call with the refreshed token: %d %v", status, body)
		}
	})
}

// tokenForm posts a form to the gateway's token endpoint.
func tokenForm(t *testing.T, g *gateway, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, body := postForm(t, http.DefaultClient, g.URL+"/oauth/token", g.URL, form)
	var out map[string]any
	_ = json.Unmarshal([]byte(body), &out)
	return resp.StatusCode, out
}
