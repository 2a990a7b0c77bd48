package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/module/store"
)

// withCORS writes a copy of the quickstart whose guard lets pages of the
// origin in $SCOPEGATE_TEST_PAGE_ORIGIN call /api/* (the shipped files
// name no origin: only the operator knows its pages).
func withCORS(t *testing.T) string {
	t.Helper()
	const guard = "scopegate_guard demo.read {\n"
	return quickstartEdited(t, "cors.Caddyfile", guard, guard+"\t\t\tcors {$SCOPEGATE_TEST_PAGE_ORIGIN}\n")
}

// quickstartEdited writes a copy of the quickstart with each old text (in
// pairs of old and new) replaced once, and returns its path.
func quickstartEdited(t *testing.T, name string, oldNew ...string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "caddyfiles", "quickstart.Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(text, oldNew[i]) {
			t.Fatalf("the quickstart has no %q", oldNew[i])
		}
		text = strings.Replace(text, oldNew[i], oldNew[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pageServer serves an empty page: the origin a browser script calls from.
func pageServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>app</title><p>app</p>")
	}))
	t.Cleanup(s.Close)
	return s
}

// A browser page of an allowed origin calls the guarded API with a bearer
// token, as a single-page app with an implicit-grant token does: a GET
// passes and the page reads the upstream's answer; a PUT (which the browser
// preflights without the token) reaches the guard, and its 403 and a bad
// token's 401 are readable with WWW-Authenticate, so the app can tell a
// refresh from a missing scope. Refused calls and preflights never reach
// the upstream. A page of another origin is refused by the browser itself,
// and its calls are never sent.
func TestCORSFromABrowserPage(t *testing.T) {
	allowed, other := pageServer(t), pageServer(t)
	g := startGateway(t, withCORS(t), store.SQLite, "SCOPEGATE_TEST_PAGE_ORIGIN", allowed.URL)
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "spa", "scopes": []string{"demo.read"}})
	tok := mustToken(t, g, id, secret, nil)

	ctx := chrome(t)
	// call runs fetch in the page and returns "status|WWW-Authenticate|body",
	// or "error|<message>" when the browser refuses the answer.
	call := func(method, bearer string) string {
		t.Helper()
		js := fmt.Sprintf(`fetch(%q, {method: %q, headers: {"Authorization": "Bearer " + %q, "Content-Type": "application/json"}, body: %s})
			.then(async r => r.status + "|" + (r.headers.get("WWW-Authenticate") || "") + "|" + await r.text())
			.catch(e => "error|" + e.message)`,
			g.URL+"/api/items/1", method, bearer, map[bool]string{true: "undefined", false: `"{}"`}[method == "GET"])
		return read(t, ctx, method+" from the page", chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	}
	hits := func() int { _, n := g.Upstream.Last(); return n }

	step(t, ctx, "open the allowed page", chromedp.Navigate(allowed.URL))
	before := hits()
	if got := call("GET", tok); !strings.HasPrefix(got, "200||") || !strings.Contains(got, `"client_id":"`+id+`"`) {
		t.Fatalf("GET from the allowed page: %s", got)
	}
	if hits() != before+1 {
		t.Fatalf("upstream hits %d, want %d", hits(), before+1)
	}
	if got := call("PUT", tok); !strings.HasPrefix(got, "403|") || !strings.Contains(got, `error="insufficient_scope"`) {
		t.Fatalf("PUT without demo.write from the allowed page: %s", got)
	}
	if got := call("GET", "not-a-token"); !strings.HasPrefix(got, "401|") || !strings.Contains(got, `error="invalid_token"`) {
		t.Fatalf("GET with a bad token from the allowed page: %s", got)
	}
	if hits() != before+1 {
		t.Fatalf("a refused call or a preflight reached the upstream: hits %d, want %d", hits(), before+1)
	}

	step(t, ctx, "open the other page", chromedp.Navigate(other.URL))
	for _, method := range []string{"GET", "PUT"} {
		if got := call(method, tok); !strings.HasPrefix(got, "error|") {
			t.Fatalf("%s from a page of another origin was readable: %s", method, got)
		}
	}
	// Both carry Authorization, so the browser asked first; the guard
	// answered that origin's preflights as any tokenless request (401), and
	// neither call was sent.
	if hits() != before+1 {
		t.Fatalf("upstream hits %d, want %d (the other origin's calls must not be sent)", hits(), before+1)
	}
}

// withTokenCORS writes a copy of the quickstart whose token and revocation
// endpoints let pages of the origin in $SCOPEGATE_TEST_PAGE_ORIGIN call
// them (a single-page app redeeming and revoking its tokens).
func withTokenCORS(t *testing.T) string {
	t.Helper()
	var edits []string
	for _, ep := range []string{"token", "revoke"} {
		edits = append(edits, "\t\tscopegate "+ep+"\n", "\t\tscopegate "+ep+" {\n\t\t\tcors {$SCOPEGATE_TEST_PAGE_ORIGIN}\n\t\t}\n")
	}
	return quickstartEdited(t, "token-cors.Caddyfile", edits...)
}

// A browser page of an origin the token endpoint's cors names gets a token
// there (with HTTP Basic, which the browser preflights, and with the
// credentials in the form, which it does not), reads a refusal with its
// WWW-Authenticate, and revokes the token at the revocation endpoint; the
// token then no longer passes the guard. A page of another origin reads
// none of these answers (with HTTP Basic, the browser does not even send
// the request: its preflight is not answered).
func TestTokenEndpointCORSFromABrowserPage(t *testing.T) {
	allowed, other := pageServer(t), pageServer(t)
	g := startGateway(t, withTokenCORS(t), store.SQLite, "SCOPEGATE_TEST_PAGE_ORIGIN", allowed.URL)
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "spa", "scopes": []string{"demo.read"}})

	ctx := chrome(t)
	// post runs fetch in the page and returns "status|WWW-Authenticate|body",
	// or "error|<message>" when the browser refuses the answer.
	post := func(path, body string, basic bool) string {
		t.Helper()
		headers := `{"Content-Type": "application/x-www-form-urlencoded"}`
		if basic {
			headers = fmt.Sprintf(`{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic " + btoa(%q)}`, id+":"+secret)
		}
		js := fmt.Sprintf(`fetch(%q, {method: "POST", headers: %s, body: %q})
			.then(async r => r.status + "|" + (r.headers.get("WWW-Authenticate") || "") + "|" + await r.text())
			.catch(e => "error|" + e.message)`, g.URL+path, headers, body)
		return read(t, ctx, "POST "+path+" from the page", chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	}
	tokenOf := func(got string) string {
		t.Helper()
		_, body, _ := strings.Cut(strings.SplitN(got, "|", 2)[1], "|")
		var v struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || v.AccessToken == "" {
			t.Fatalf("no access token in %q: %v", got, err)
		}
		return v.AccessToken
	}

	step(t, ctx, "open the allowed page", chromedp.Navigate(allowed.URL))
	withBasic := post("/oauth2/token", "grant_type=client_credentials", true)
	if !strings.HasPrefix(withBasic, "200||") {
		t.Fatalf("a token with HTTP Basic from the allowed page: %s", withBasic)
	}
	inForm := post("/oauth2/token", "grant_type=client_credentials&client_id="+id+"&client_secret="+secret, false)
	if !strings.HasPrefix(inForm, "200||") {
		t.Fatalf("a token with the credentials in the form from the allowed page: %s", inForm)
	}
	if got := post("/oauth2/token", "grant_type=client_credentials&client_id="+id+"&client_secret=wrong", false); !strings.HasPrefix(got, "401|Basic") ||
		!strings.Contains(got, "invalid_client") {
		t.Fatalf("a wrong secret from the allowed page: %s, want a readable 401 invalid_client with its challenge", got)
	}
	tok := tokenOf(inForm)
	if status, _, _ := call(t, "GET", g.URL+"/api/x", tok, nil); status != http.StatusOK {
		t.Fatalf("the page's token at the guard: %d", status)
	}
	if got := post("/oauth2/revoke", "token="+tok, true); !strings.HasPrefix(got, "200|") {
		t.Fatalf("revoking from the allowed page: %s", got)
	}
	if status, _, _ := call(t, "GET", g.URL+"/api/x", tok, nil); status != http.StatusUnauthorized {
		t.Fatalf("the revoked token at the guard: %d, want 401", status)
	}

	step(t, ctx, "open the other page", chromedp.Navigate(other.URL))
	if got := post("/oauth2/token", "grant_type=client_credentials&client_id="+id+"&client_secret="+secret, false); !strings.HasPrefix(got, "error|") {
		t.Fatalf("a token request from a page of another origin was readable: %s", got)
	}
	if got := post("/oauth2/token", "grant_type=client_credentials", true); !strings.HasPrefix(got, "error|") {
		t.Fatalf("a token request with HTTP Basic from a page of another origin was readable: %s", got)
	}
}
