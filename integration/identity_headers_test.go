package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// forgedIdentity is what a caller sends to pass for someone else: identity
// headers in the dash, underscore and dot spellings (php_fastcgi hands them
// all to PHP as HTTP_X_SCOPEGATE_*), in mixed case, and the impersonation
// header. Caddy drops names with '_' or '.' unless the server's
// expected_underscore_headers / expected_dot_headers let them in.
var forgedIdentity = []string{
	"X-Scopegate-User-Id", "forged",
	"x-scopegate-client-id", "forged",
	"X-SCOPEGATE-TENANT", "forged",
	"X_Scopegate_Scopes", "forged",
	"x_scopegate_legs", "forged",
	"X_Scopegate_Claim_Application_Id", "forged",
	"X.Scopegate.Token-Id", "forged",
	"x.scopegate.actor.client.id", "forged",
	// Other gateways' identity, and the client's address as a proxy would
	// give it (the test's peer is no trusted proxy).
	"Remote-User", "forged",
	"X-Forwarded-User", "forged",
	"X-Auth-Request-Email", "forged",
	"X-Consumer-Username", "forged",
	"X-Authenticated-Userid", "forged",
	"X-Real-IP", "forged",
	"Forwarded", "forged",
	"X-Forwarded-Prefix", "forged",
	// The impersonation header last (some tests leave these three out).
	"X-Act-As-User", "forged",
	"X_ACT_AS_USER", "forged",
	"x.act.as.user", "forged",
}

// othersForged are the names, lower case with '-', of forgedIdentity's
// other gateways' and client address headers.
var othersForged = []string{"remote-user", "x-forwarded-user", "x-auth-request-email", "x-consumer-username",
	"x-authenticated-userid", "x-real-ip", "forwarded", "x-forwarded-prefix"}

// proxyTrailers are the names, in several spellings, of what a proxy tells
// its upstream about the client (its address, scheme, host, user or
// certificate), sent as trailers; some are not canonical.
var proxyTrailers = []string{"X-Forwarded-For", "X_Forwarded_Proto", "x-forwarded-host", "Forwarded", "X-Real-Ip",
	"X.Real.IP", "True-Client-Ip", "X-Http-Method-Override", "X-Forwarded-Prefix", "X-Forwarded", "Remote-User",
	"X-Remote-User", "X-Client-Cert", "Ssl-Client-Cert", "Wl-Proxy-Client-Ip", "X-Original-Forwarded-For", "X-Scheme"}

// forgedHeadersIn lists the headers of h that carry a forged identity: any
// name in the identity namespace, the impersonation header or one of
// othersForged, whatever the spelling, holding a value the caller sent.
func forgedHeadersIn(h http.Header) []string {
	var out []string
	for k, v := range h {
		name := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k))
		if (strings.HasPrefix(name, "x-scopegate-") || name == "x-act-as-user" || slices.Contains(othersForged, name)) && slices.Contains(v, "forged") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// sendRaw sends method to the gateway with path exactly as written (no
// cleaning, percent-encoding kept) and the given header lines, and returns
// the status and body.
func sendRaw(t *testing.T, g *gateway, method, path, bearer string, headers ...string) (int, string, http.Header) {
	t.Helper()
	if bearer != "" {
		headers = append(slices.Clip(headers), "Authorization", "Bearer "+bearer)
	}
	// Written raw: the header names as given (not canonicalised), and the
	// request line carries path untouched (Go's client would send a path
	// starting with "//" as an absolute URL naming another host).
	resp, body := rawRequest(t, g, method, path, headers...)
	return resp.StatusCode, body, resp.Header
}

// proxiedRoutes names, for every shipped Caddyfile, a path on each route
// that proxies to the upstream, guarded or not. A new Caddyfile must be
// listed here before TestForgedIdentityNeverReachesUpstreams passes.
var proxiedRoutes = map[string][]string{
	"quickstart.Caddyfile": {"/api/x", "/public/x"},
	"postgres.Caddyfile":   {"/api/x", "/public/x"},
	"bits.Caddyfile":       {"/v1/applications", "/v1/applications/app-1", "/v1/applications/app-1/sessions"},
	"bigtincan.Caddyfile":  {"/v5/users/x", "/v5/stories/x", "/v5/files/x"},
	"imagen.Caddyfile":     {"/api/records/x", "/api/jobs/x", "/api/users/x"},
	"nitro.Caddyfile":      {"/api/users/x", "/api/admin/x", "/api/import/x"},
	"tenants.Caddyfile":    {"/api/reports/x", "/api/members/x"},
}

// unguarded lists the paths of proxiedRoutes that reach the upstream
// without a token, so the test knows its forged headers were delivered
// somewhere they could have leaked. Paths through dot segments never do:
// scopegate_strip refuses them (400) on every route.
var unguarded = map[string][]string{
	"quickstart.Caddyfile": {"/public/x"},
	"postgres.Caddyfile":   {"/public/x"},
}

// No request through a shipped Caddyfile delivers a caller-sent identity
// header to the upstream: forged X-Scopegate-* (both spellings, any case)
// and impersonation headers are sent, without a token, to every proxied
// route, to /public/x, and through dot segments (raw, percent-encoded, with
// an encoded slash or backslash) and a leading "//" that Caddy matches by
// the cleaned path but proxies as sent, from one route into another; the upstream records every
// request it gets and none of them carries a forged header. On the files
// with an unguarded route the forged headers did reach that upstream's
// route, so the check is not vacuous.
func TestForgedIdentityNeverReachesUpstreams(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "caddyfiles", "*.Caddyfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Caddyfiles found: %v", err)
	}
	for _, f := range files {
		file := filepath.Base(f)
		t.Run(file, func(t *testing.T) {
			routes, ok := proxiedRoutes[file]
			if !ok {
				t.Fatalf("%s is not listed in proxiedRoutes", file)
			}
			driver := store.SQLite
			if file == "postgres.Caddyfile" {
				driver = store.Postgres
			}
			g := startGateway(t, file, driver)

			paths := append([]string{"/public/x", "/api/../public/x", "/api/%2e%2e/public/x", "/api/%2E%2E/public/x",
				"/api/.%2e/public/x", "/api/..%2fpublic/x", "/api/..%5Cpublic/x", "/api/..\\public/x"}, routes...)
			for _, r := range routes {
				rest := strings.TrimPrefix(r, "/")
				// A leading "//": host "public" and path r for an upstream
				// parsing the target as a URI reference.
				paths = append(paths, "/nowhere/../"+rest, "/nowhere/%2e%2e/"+rest, "/public/%2e%2e/"+rest, "//public/"+rest, "/"+r)
				for _, other := range routes {
					paths = append(paths, other+"/../../"+rest, other+"/%2e%2e/%2e%2e/"+rest)
				}
			}
			reached := map[string]bool{}
			for _, method := range []string{"GET", "POST"} {
				for _, p := range paths {
					_, before := g.Upstream.Last()
					status, _, _ := sendRaw(t, g, method, p, "", forgedIdentity...)
					seen, after := g.Upstream.Last()
					if unclear := strings.Contains(p, "..") || strings.Contains(strings.ToLower(p), "%2e") || strings.ContainsAny(p, `\`) ||
						strings.Contains(strings.ToLower(p), "%5c") || strings.HasPrefix(p, "//"); unclear && (status != http.StatusBadRequest || after != before) {
						t.Errorf("%s %s: %d (upstream called: %v), want 400 from scopegate_strip", method, p, status, after != before)
					}
					if after == before {
						continue
					}
					reached[p] = true
					if forged := forgedHeadersIn(seen); len(forged) > 0 {
						t.Errorf("%s %s (%d): the upstream received forged %q", method, p, status, forged)
					}
				}
			}
			for _, p := range unguarded[file] {
				if !reached[p] {
					t.Errorf("control: %s never reached the upstream", p)
				}
			}
		})
	}
}

// The guard's trusted identity still reaches the upstream of a guarded route
// behind scopegate_strip, with the forged copies gone, and without the
// caller's bearer token (the guard keeps it unless forward_token). The guarded route
// reached through dot segments from the unguarded one is refused (400
// invalid_request) without calling the upstream: the upstream would get the
// path as sent and might resolve it to another route.
func TestTrustedIdentityStillReachesGuardedRoutes(t *testing.T) {
	eachDriver(t, func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
		tok := mustToken(t, g, id, secret, nil)
		for _, p := range []string{"/public/../api/x", "/public/%2e%2e/api/x"} {
			_, before := g.Upstream.Last()
			status, body, _ := sendRaw(t, g, "GET", p, tok)
			if _, after := g.Upstream.Last(); status != http.StatusBadRequest || !strings.Contains(body, "invalid_request") || after != before {
				t.Fatalf("GET %s: %d %s (upstream called: %v), want 400 invalid_request", p, status, body, after != before)
			}
		}
		for _, p := range []string{"/api/x"} {
			status, body, _ := sendRaw(t, g, "GET", p, tok, forgedIdentity[:len(forgedIdentity)-6]...) // no impersonation on /api/
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", p, status, body)
			}
			seen, _ := g.Upstream.Last()
			want := map[string]string{"X-Scopegate-Client-Id": id, "X-Scopegate-Scopes": "demo.read", "X-Scopegate-Legs": "2", "X-Scopegate-Tenant": "default"}
			for k, v := range want {
				if got := seen.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("GET %s: upstream %s = %q, want [%q]", p, k, got, v)
				}
			}
			if forged := forgedHeadersIn(seen); len(forged) > 0 {
				t.Errorf("GET %s: the upstream received forged %q", p, forged)
			}
			if v, ok := seen["X-Scopegate-User-Id"]; ok {
				t.Errorf("GET %s: a 2-legged call carries a user id %q", p, v)
			}
			if v, ok := seen["Authorization"]; ok {
				t.Errorf("GET %s: the upstream got the caller's token %q; the guard keeps it (no forward_token)", p, v)
			}
		}
	})
}

// caddyfileVariant writes a copy of the shipped file with servers inserted
// into the servers block of its global options and site at the top of its
// first site block, and returns the copy's path.
func caddyfileVariant(t *testing.T, file, servers, site string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "caddyfiles", file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, ins := range []struct{ after, text string }{{"\n\tservers {\n", servers}, {"\n:{$SCOPEGATE_PORT:8080} {\n", site}} {
		i := strings.Index(text, ins.after)
		if i < 0 {
			t.Fatalf("%s has no %q", file, ins.after)
		}
		i += len(ins.after)
		text = text[:i] + ins.text + text[i:]
	}
	path := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// An operator who lets underscore and dot headers through (for a backend
// that wants them) does not open a way to forge an identity: on the
// quickstart with expected_underscore_headers and expected_dot_headers
// covering the identity names, the forged X_Scopegate_* and X.Scopegate.*
// headers sent to /public/ (directly and through dot segments) never reach
// the upstream, while an unrelated allowed underscore header does.
func TestForgedIdentityWithUnderscoreHeadersAllowed(t *testing.T) {
	path := caddyfileVariant(t, "quickstart.Caddyfile", `		expected_underscore_headers x_scopegate_* x_act_as_user x_control
		expected_dot_headers x.scopegate.* x.act.as.user
`, "")
	g := startGateway(t, path, store.SQLite)
	for _, p := range unguarded["quickstart.Caddyfile"] {
		status, body, _ := sendRaw(t, g, "GET", p, "", append([]string{"X_Control", "kept"}, forgedIdentity...)...)
		seen, _ := g.Upstream.Last()
		if status != http.StatusOK || seen.Get("X_control") != "kept" {
			t.Fatalf("control: GET %s: %d %s; the upstream saw %v", p, status, body, seen)
		}
		if forged := forgedHeadersIn(seen); len(forged) > 0 {
			t.Errorf("GET %s: the upstream received forged %q", p, forged)
		}
	}
}

// readOnlyCase is a shipped file with a write matcher, a way to get a token
// that holds only the read scopes of its write-guarded routes, those routes,
// and the write scope each names in its challenge.
type readOnlyCase struct {
	file, tokenPath string
	client          func(t *testing.T, g *gateway, admin string) map[string]any
	routes          map[string]string // path -> the write scope
}

var readOnlyCases = []readOnlyCase{
	{"quickstart.Caddyfile", "/oauth2/token", nil, map[string]string{"/api/x": "demo.write"}},
	{"postgres.Caddyfile", "/oauth2/token", nil, map[string]string{"/api/x": "demo.write"}},
	{"tenants.Caddyfile", "/oauth2/token", nil, map[string]string{"/api/reports/x": "reports.write", "/api/members/x": "members.write"}},
	{"bits.Caddyfile", "/v1/oauth2/token", nil, map[string]string{"/v1/applications": "application", "/v1/applications/app-1": "application"}},
	{"bigtincan.Caddyfile", "/oauth/token", func(t *testing.T, g *gateway, admin string) map[string]any {
		return map[string]any{"connect_as_user_id": createUser(t, g, admin, map[string]any{"username": "reader"})}
	}, map[string]string{"/v5/users/x": "users.write", "/v5/stories/x": "stories.write"}},
	{"imagen.Caddyfile", "/oauth/token", func(t *testing.T, g *gateway, admin string) map[string]any {
		return map[string]any{"connect_as_user_id": createUser(t, g, admin, map[string]any{"username": "reader"})}
	}, map[string]string{"/api/records/x": "modifyUsersData", "/api/jobs/x": "createJobs", "/api/users/x": "modifyRoles"}},
}

// readScopes are the scopes the read-only client of each file holds.
var readScopes = map[string][]string{
	"quickstart.Caddyfile": {"demo.read"},
	"postgres.Caddyfile":   {"demo.read"},
	"tenants.Caddyfile":    {"reports.read", "members.read"},
	"bits.Caddyfile":       {"application.read"},
	"bigtincan.Caddyfile":  {"users.read", "stories.read"},
	"imagen.Caddyfile":     {"readUsersData", "manageJobs", "roles"},
}

// The write guard fails closed: in every shipped file with a write matcher,
// a token holding only the read scopes is refused (403 insufficient_scope
// naming the write scope) for every method that is not GET, HEAD or
// OPTIONS: a lower-case "post" (methods are case-sensitive, so a list of
// write methods does not match it) and WebDAV's PURGE, PROPPATCH, MKCOL,
// COPY, MOVE and LOCK as much as POST, PUT, PATCH and DELETE. GET still
// passes, so the refusals are the write guard's.
func TestWriteGuardFailsClosed(t *testing.T) {
	for _, tc := range readOnlyCases {
		t.Run(tc.file, func(t *testing.T) {
			driver := store.SQLite
			if tc.file == "postgres.Caddyfile" {
				driver = store.Postgres
			}
			g := startGateway(t, tc.file, driver)
			admin := bootstrapAdmin(t, g, tc.tokenPath)
			body := map[string]any{"name": "reader", "scopes": readScopes[tc.file]}
			if tc.client != nil {
				for k, v := range tc.client(t, g, admin) {
					body[k] = v
				}
			}
			id, secret := createClient(t, g, admin, body)
			tok := mustTokenAt(t, g, tc.tokenPath, id, secret)
			for path, writeScope := range tc.routes {
				if status, body, _ := sendRaw(t, g, "GET", path, tok); status != http.StatusOK {
					t.Fatalf("control: GET %s with the read token: %d %s", path, status, body)
				}
				for _, method := range []string{"post", "PURGE", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "POST", "PUT", "PATCH", "DELETE"} {
					_, before := g.Upstream.Last()
					status, _, h := sendRaw(t, g, method, path, tok)
					if _, after := g.Upstream.Last(); after != before || status != http.StatusForbidden || challenge(h) != "insufficient_scope" ||
						!strings.Contains(h.Get("WWW-Authenticate"), `scope="`+writeScope+`"`) {
						t.Errorf("%s %s with a read-only token: %d %q (upstream reached: %v)", method, path, status, h.Get("WWW-Authenticate"), after != before)
					}
				}
			}
		})
	}
}

// getAs sends method path to the gateway with Host host and an optional bearer
// token, and returns the status, body and headers.
func getAs(t *testing.T, g *gateway, method, host, path, bearer string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// The guard's refusals go through handle_errors, as Caddy's basic_auth's
// do: with `handle_errors { respond "custom {err.status_code}
// {err.oauth_error}" }` in the quickstart's site, a missing token and a
// missing scope get the operator's page, and still the RFC 6750 challenge.
// A site without handle_errors keeps the RFC 6750 JSON body, also when
// another site of the same server has handle_errors. scopegate_strip's
// refusal of an unclear path goes the same way.
func TestHandleErrorsShapesGuardRefusals(t *testing.T) {
	const page = `	handle_errors {
		respond "custom {err.status_code} {err.oauth_error}"
	}
`
	t.Run("handle_errors in the site", func(t *testing.T) {
		g := startGateway(t, caddyfileVariant(t, "quickstart.Caddyfile", "", page), store.SQLite)
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
		tok := mustToken(t, g, id, secret, nil)
		for _, tc := range []struct {
			method, bearer, body, challenge string
			status                          int
		}{
			{"GET", "", "custom 401 invalid_token", `Bearer realm="scopegate", error="invalid_token", error_description="no bearer token: send Authorization: Bearer <token>"`, 401},
			{"POST", tok, "custom 403 insufficient_scope", `Bearer realm="scopegate", error="insufficient_scope", error_description="the token lacks scope demo.write", scope="demo.write"`, 403},
		} {
			status, body, h := getAs(t, g, tc.method, "localhost", "/api/x", tc.bearer)
			if status != tc.status || body != tc.body || h.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%s /api/x: %d %q, WWW-Authenticate %q; want %d %q, %q", tc.method, status, body, h.Get("WWW-Authenticate"), tc.status, tc.body, tc.challenge)
			}
		}
		if status, body, _ := getAs(t, g, "GET", "localhost", "/api/x", tok); status != 200 {
			t.Errorf("control: GET with the read token: %d %s", status, body)
		}
		// scopegate_strip's refusal of an unclear path, on the unguarded
		// route, gets the operator's page too.
		if status, body, _ := getAs(t, g, "GET", "localhost", "/public/x;jsessionid=1", ""); status != 400 || body != "custom 400 invalid_request" {
			t.Errorf("GET /public/x;jsessionid=1: %d %q, want the page for 400 invalid_request", status, body)
		}
	})

	// handle_errors limited to statuses gets the refusals of those
	// statuses (a status list never matched: config red team); others keep
	// the JSON.
	t.Run("handle_errors for some statuses", func(t *testing.T) {
		limited := strings.Replace(page, "handle_errors {", "handle_errors 401 400 {", 1)
		g := startGateway(t, caddyfileVariant(t, "quickstart.Caddyfile", "", limited), store.SQLite)
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
		tok := mustToken(t, g, id, secret, nil)
		if status, body, _ := getAs(t, g, "GET", "localhost", "/api/x", ""); status != 401 || body != "custom 401 invalid_token" {
			t.Errorf("GET /api/x with no token: %d %q, want the page for 401", status, body)
		}
		if status, body, _ := getAs(t, g, "GET", "localhost", "/public/x;jsessionid=1", ""); status != 400 || body != "custom 400 invalid_request" {
			t.Errorf("GET /public/x;jsessionid=1: %d %q, want the page for 400", status, body)
		}
		status, body, h := getAs(t, g, "POST", "localhost", "/api/x", tok)
		if status != 403 || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error":"insufficient_scope"`) {
			t.Errorf("POST /api/x, a status the list leaves out: %d %q %q, want the JSON 403", status, h.Get("Content-Type"), body)
		}
	})

	t.Run("handle_errors in another site", func(t *testing.T) {
		path := caddyfileVariant(t, "quickstart.Caddyfile", "", "")
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("\nhttp://errors.test:{$SCOPEGATE_PORT:8080} {\n" + page + `	route /api/* {
		scopegate_guard demo.read
		reverse_proxy {$SCOPEGATE_UPSTREAM:127.0.0.1:8081}
	}
}
`)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		g := startGateway(t, path, store.SQLite)
		want := `Bearer realm="scopegate", error="invalid_token", error_description="no bearer token: send Authorization: Bearer <token>"`
		status, body, h := getAs(t, g, "GET", "localhost", "/api/x", "")
		if status != 401 || h.Get("WWW-Authenticate") != want || h.Get("Content-Type") != "application/json" ||
			!strings.Contains(body, `"error":"invalid_token"`) {
			t.Errorf("the site without handle_errors: %d %q %q, WWW-Authenticate %q", status, h.Get("Content-Type"), body, h.Get("WWW-Authenticate"))
		}
		status, body, h = getAs(t, g, "GET", "errors.test", "/api/x", "")
		if status != 401 || body != "custom 401 invalid_token" || h.Get("WWW-Authenticate") != want {
			t.Errorf("the site with handle_errors: %d %q, WWW-Authenticate %q", status, body, h.Get("WWW-Authenticate"))
		}
		status, body, h = getAs(t, g, "GET", "localhost", "/public/x;jsessionid=1", "")
		if status != 400 || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error":"invalid_request"`) {
			t.Errorf("an unclear path on the site without handle_errors: %d %q %q", status, h.Get("Content-Type"), body)
		}
	})
}

// A guard in front of scopegate_admin keeps the bearer token out of the
// request it passes on, yet the admin handler, which checks the token
// itself, still finds it: on the quickstart with a /guarded-admin/ route
// (scopegate_guard scopegate.admin, then scopegate_admin), an admin token
// lists the clients and a token without the scope is refused by the guard;
// an upstream behind a guard of the same file still gets no token.
func TestAdminBehindAGuardStillSeesTheToken(t *testing.T) {
	site := `	route /guarded-admin/* {
		scopegate_guard scopegate.admin
		uri strip_prefix /guarded-admin
		scopegate_admin
	}
`
	g := startGateway(t, caddyfileVariant(t, "quickstart.Caddyfile", "", site), store.SQLite)
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	status, body, _ := call(t, "GET", g.URL+"/guarded-admin/clients", admin, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /guarded-admin/clients with an admin token: %d %v, want 200", status, body)
	}
	id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
	reader := mustToken(t, g, id, secret, nil)
	if status, body, _ = call(t, "GET", g.URL+"/guarded-admin/clients", reader, nil); status != http.StatusForbidden {
		t.Fatalf("GET /guarded-admin/clients with a demo.read token: %d %v, want 403 from the guard", status, body)
	}
	if status, body, _ = call(t, "GET", g.URL+"/api/x", reader, nil); status != http.StatusOK {
		t.Fatalf("GET /api/x: %d %v", status, body)
	}
	if seen, _ := g.Upstream.Last(); seen.Get("Authorization") != "" {
		t.Fatalf("the upstream got Authorization %q", seen.Get("Authorization"))
	}
}

// Request trailers (declared in a Trailer header, arriving after a chunked
// body) reach the upstream, which may merge them into its headers, only
// when allowed: on the shipped quickstart, on its unguarded route and its
// guarded one, only the integrity fields (Content-Digest) arrive; forged
// identity headers, an Authorization trailer (the guard holds the caller's
// token back; a trailer's was never checked), the client address, scheme
// and host a proxy adds (X-Forwarded-For, X_Forwarded_Proto, Forwarded,
// X-Real-Ip, …), the user or certificate a front proxy vouches for
// (Remote-User, X-Client-Cert), a method override and any other name
// (X-Checksum) do not. With allow_trailers X-Checksum in the scopegate
// options X-Checksum arrives too, and nothing else changes.
func TestForgedTrailersNeverReachUpstreams(t *testing.T) {
	allowing := caddyfileVariant(t, "quickstart.Caddyfile", "", "")
	body, err := os.ReadFile(allowing)
	if err != nil {
		t.Fatal(err)
	}
	withOption := strings.Replace(string(body), "\tscopegate {\n", "\tscopegate {\n\t\tallow_trailers X-Checksum\n", 1)
	if withOption == string(body) {
		t.Fatal("the quickstart has no scopegate block")
	}
	if err := os.WriteFile(allowing, []byte(withOption), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []struct {
		file     string
		checksum bool
	}{{"quickstart.Caddyfile", false}, {allowing, true}} {
		g := startGateway(t, cfg.file, store.SQLite)
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read", "demo.write"}})
		tok := mustToken(t, g, id, secret, nil)
		for _, tc := range []struct{ path, bearer string }{{"/public/x", ""}, {"/api/x", tok}} {
			trailer := http.Header{"Content-Digest": {"sha-256=:abc=:"}, "X-Checksum": {"abc"}, "Authorization": {"Bearer from-a-trailer"}}
			for _, name := range proxyTrailers {
				trailer[name] = []string{"6.6.6.6"}
			}
			for i := 0; i+1 < len(forgedIdentity); i += 2 {
				trailer[http.CanonicalHeaderKey(forgedIdentity[i])] = []string{forgedIdentity[i+1]}
			}
			// An io.Reader of unknown length: the body goes chunked, then the trailers.
			req, err := http.NewRequest("POST", g.URL+tc.path, io.MultiReader(strings.NewReader("payload")))
			if err != nil {
				t.Fatal(err)
			}
			req.Trailer = trailer
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			_, before := g.Upstream.Last()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			seen, after := g.Upstream.Last()
			where := fmt.Sprintf("%s, POST %s", filepath.Base(cfg.file), tc.path)
			if resp.StatusCode != http.StatusOK || after == before {
				t.Fatalf("%s: %d, upstream called: %v", where, resp.StatusCode, after != before)
			}
			if forged := forgedHeadersIn(seen); len(forged) > 0 {
				t.Errorf("%s: the upstream received forged trailers %q", where, forged)
			}
			if got := seen.Get("Authorization"); tc.bearer != "" && got != "" {
				t.Errorf("%s: the upstream of a guarded route received Authorization %q from a trailer", where, got)
			}
			for k, v := range seen {
				if slices.Contains(v, "6.6.6.6") {
					t.Errorf("%s: the upstream received %s %q from a trailer", where, k, v)
				}
			}
			if got := seen.Get("Content-Digest"); got != "sha-256=:abc=:" {
				t.Errorf("%s: the integrity trailer did not arrive (%q): trailers were not forwarded at all", where, got)
			}
			if got := seen.Get("X-Checksum"); (got == "abc") != cfg.checksum {
				t.Errorf("%s: X-Checksum %q, allowed: %v", where, got, cfg.checksum)
			}
		}
	}
}

// A caller's Connection header cannot remove the identity the guard sets:
// reverse_proxy deletes every header Connection names, after the guard has
// run, so "Connection: X-Scopegate-Client-Id, …" used to reach the upstream
// with the identity cut down. The caller's own hop-by-hop header named there
// is still removed (the control), and keep-alive still works.
func TestConnectionHeaderCannotRemoveTrustedIdentity(t *testing.T) {
	eachDriver(t, func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
		tok := mustToken(t, g, id, secret, nil)
		status, body, _ := sendRaw(t, g, "GET", "/api/x", tok,
			"Connection", "keep-alive, X-Scopegate-Client-Id, x-scopegate-tenant",
			"Connection", "X-SCOPEGATE-LEGS,X-Scopegate-Scopes , X-Caller-Hop",
			"X-Caller-Hop", "mine")
		if status != http.StatusOK {
			t.Fatalf("GET /api/x: %d %s", status, body)
		}
		seen, _ := g.Upstream.Last()
		want := map[string]string{"X-Scopegate-Client-Id": id, "X-Scopegate-Scopes": "demo.read", "X-Scopegate-Legs": "2", "X-Scopegate-Tenant": "default"}
		for k, v := range want {
			if got := seen.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("upstream %s = %q, want [%q]: the caller's Connection header removed it", k, got, v)
			}
		}
		if v, ok := seen["X-Caller-Hop"]; ok {
			t.Errorf("upstream got the caller's hop-by-hop X-Caller-Hop %q", v)
		}
	})
}

// reverse_proxy tunnels whatever protocol an upstream switches to, and past
// its 101 no guard sees another request of that connection: an upstream
// that accepts "Upgrade: h2c" would serve the caller's HTTP/2 requests of
// any method, path and forged identity unchecked. So on the guarded and the
// unguarded route of the shipped files, an upgrade to anything but
// WebSocket (h2c with its HTTP2-Settings, as curl --http2 sends it; a list
// offering h2c) reaches the upstream as the plain request it also is, with
// neither header; a WebSocket upgrade still reaches it (the control), on the
// guarded route with a token holding its write scope: a socket carries
// writes no guard sees, so a read-only token's opening is refused 403
// insufficient_scope and never reaches the upstream.
func TestUpgradesOtherThanWebSocketNeverReachUpstreams(t *testing.T) {
	eachDriver(t, func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
		tok := mustToken(t, g, id, secret, nil)
		wid, wsecret := createClient(t, g, admin, map[string]any{"name": "writer", "scopes": []string{"demo.write"}})
		writer := mustToken(t, g, wid, wsecret, nil)
		_, before := g.Upstream.Last()
		status, body, hdr := sendRaw(t, g, "GET", "/api/x", tok, "Connection", "Upgrade", "Upgrade", "websocket")
		if _, after := g.Upstream.Last(); status != http.StatusForbidden || after != before ||
			!strings.Contains(hdr.Get("Www-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("a read-only token opening a WebSocket on the guarded route: %d %s %v (upstream hits %d → %d), "+
				"want 403 insufficient_scope and nothing proxied", status, body, hdr, before, after)
		}
		for _, path := range []string{"/api/x", "/public/x"} {
			for _, offer := range []string{"h2c", "websocket, h2c"} {
				status, body, _ := sendRaw(t, g, "GET", path, tok, "Connection", "Upgrade, HTTP2-Settings",
					"Upgrade", offer, "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
				if status != http.StatusOK {
					t.Fatalf("GET %s offering %q: %d %s, want the plain request's 200", path, offer, status, body)
				}
				seen, _ := g.Upstream.Last()
				for _, k := range []string{"Upgrade", "Http2-Settings"} {
					if v, ok := seen[k]; ok {
						t.Errorf("GET %s offering %q: the upstream got %s %q", path, offer, k, v)
					}
				}
			}
			if status, body, _ := sendRaw(t, g, "GET", path, writer, "Connection", "Upgrade", "Upgrade", "websocket"); status != http.StatusOK {
				t.Fatalf("GET %s offering websocket: %d %s", path, status, body)
			}
			if seen, _ := g.Upstream.Last(); seen.Get("Upgrade") != "websocket" {
				t.Errorf("GET %s offering websocket: the upstream got Upgrade %q, want websocket", path, seen.Values("Upgrade"))
			}
		}
	})
}
