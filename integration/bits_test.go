package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// bitsTokenRequest sends Bits' documented request byte for byte:
//
//	POST /v1/oauth2/token HTTP/1.1
//	Authorization: Basic <base64({clientId:clientSecret})>
//	Content-Type: application/x-www-form-urlencoded
//
//	grant_type=client_credentials
//
// plus any extra form parameters (the application.session claims).
func bitsTokenRequest(t *testing.T, g *gateway, clientID, clientSecret string, extra url.Values) (int, map[string]any) {
	t.Helper()
	body := "grant_type=client_credentials"
	if len(extra) > 0 {
		body += "&" + extra.Encode()
	}
	req, _ := http.NewRequest("POST", g.URL+"/v1/oauth2/token", strings.NewReader(body))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(clientID+":"+clientSecret)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("non-JSON answer %d: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// bitsUserinfo sends Bits' documented userinfo request, "Authorization:
// bearer <accessToken>" in lower case.
func bitsUserinfo(t *testing.T, g *gateway, access string) (int, map[string]any) {
	t.Helper()
	status, info, _ := call(t, "GET", g.URL+"/oauth2/userinfo", "", nil, "Authorization", "bearer "+access)
	return status, info
}

// Bits, as documented: the token response carries "type": "Bearer" (and the
// standard token_type), expires_in 3600 and the granted scope; userinfo
// answers the customer id of the token's owner for "Authorization: bearer";
// "application" implies "application.read"; "application.session" is granted
// only with application_id, workflow_id and a registered redirect_url, the
// claims travel in the token and the token works only for its application.
func TestBits(t *testing.T) {
	eachDriverWith(t, "bits.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/v1/oauth2/token")
		customer := createTenant(t, g, admin, "Acme Lending")
		id, secret := createClient(t, g, admin, map[string]any{
			"name": "acme-backend", "tenant_id": customer,
			"scopes":         []string{"application", "application.session"},
			"default_scopes": []string{"application"},
			"redirect_uris":  []string{"https://acme.example/bits/done"},
		})

		status, tok := bitsTokenRequest(t, g, id, secret, nil)
		if status != 200 || tok["type"] != "Bearer" || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) || tok["scope"] != "application" {
			t.Fatalf("documented token response: %d %v", status, tok)
		}
		access := tok["access_token"].(string)

		// GET /oauth2/userinfo with "Authorization: bearer <accessToken>" (lower-case, as documented):
		// the customer is the client's tenant, whose id is a UUID.
		if status, info := bitsUserinfo(t, g, access); status != 200 || info["customerId"] != "bits:customer::"+customer {
			t.Fatalf("userinfo: %d %v", status, info)
		}
		// A tenant whose id is not a UUID (the default one) is still named by one.
		status, info := bitsUserinfo(t, g, admin)
		if want := "bits:customer::" + store.TenantUUID(store.DefaultTenantID); status != 200 || info["customerId"] != want ||
			!regexp.MustCompile(`^bits:customer::[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(fmt.Sprint(info["customerId"])) {
			t.Fatalf("userinfo of the default tenant: %d %v, want %s", status, info, want)
		}
		if status, _, _ := call(t, "GET", g.URL+"/oauth2/userinfo", "", nil); status != 401 {
			t.Fatalf("userinfo without a token: %d", status)
		}
		// Userinfo is read (GET, or POST as OpenID Connect allows); a DELETE
		// or PUT is 405 with Allow, not 200 as if it did something.
		for _, m := range []string{"DELETE", "PUT", "PATCH"} {
			status, body, hdr := call(t, m, g.URL+"/oauth2/userinfo", access, nil)
			if status != 405 || hdr.Get("Allow") != "GET, HEAD, POST" || body["error"] != "invalid_request" {
				t.Fatalf("%s /oauth2/userinfo: %d %v Allow %q, want 405", m, status, body, hdr.Get("Allow"))
			}
		}
		if status, info, _ := call(t, "POST", g.URL+"/oauth2/userinfo", access, nil); status != 200 || info["customerId"] != "bits:customer::"+customer {
			t.Fatalf("POST /oauth2/userinfo: %d %v", status, info)
		}

		// "application" creates and (through its implication) reads.
		if status, body, _ := call(t, "POST", g.URL+"/v1/applications", access, map[string]string{"name": "loan"}); status != 200 || body["client_id"] != id {
			t.Fatalf("create application: %d %v", status, body)
		}
		if status, _, _ := call(t, "GET", g.URL+"/v1/applications/app-1", access, nil); status != 200 {
			t.Fatalf("read application with the implied scope: %d", status)
		}

		// A read-only client cannot create.
		roID, roSecret := createClient(t, g, admin, map[string]any{"name": "acme-reader", "tenant_id": customer, "scopes": []string{"application.read"}})
		_, ro := bitsTokenRequest(t, g, roID, roSecret, nil)
		if ro["scope"] != "application.read" {
			t.Fatalf("read-only grant: %v", ro)
		}
		if status, _, h := call(t, "POST", g.URL+"/v1/applications", ro["access_token"].(string), map[string]string{}); status != 403 || challenge(h) != "insufficient_scope" {
			t.Fatalf("create with application.read: %d", status)
		}

		// application.session needs its required claims.
		claims := url.Values{"scope": {"application.session"}, "application_id": {"app-1"}, "workflow_id": {"wf-9"}, "redirect_url": {"https://acme.example/bits/done"}}
		for name, mutate := range map[string]func(url.Values){
			"no workflow_id":           func(v url.Values) { v.Del("workflow_id") },
			"no application_id":        func(v url.Values) { v.Del("application_id") },
			"unregistered redirect":    func(v url.Values) { v.Set("redirect_url", "https://evil.example/steal") },
			"redirect with extra path": func(v url.Values) { v.Set("redirect_url", "https://acme.example/bits/done/x") },
		} {
			v := url.Values{}
			for k, vals := range claims {
				v[k] = append([]string{}, vals...)
			}
			mutate(v)
			if status, body := bitsTokenRequest(t, g, id, secret, v); status != 400 || body["error"] != "invalid_request" {
				t.Errorf("%s: %d %v", name, status, body)
			}
		}
		status, sess := bitsTokenRequest(t, g, id, secret, claims)
		if status != 200 || sess["scope"] != "application.session" {
			t.Fatalf("session token: %d %v", status, sess)
		}
		sessTok := sess["access_token"].(string)
		if status, _, _ := call(t, "POST", g.URL+"/v1/applications/app-1/sessions", sessTok, map[string]string{}); status != 200 {
			t.Fatalf("session for its own application: %d", status)
		}
		seen, _ := g.Upstream.Last()
		if seen.Get("X-Scopegate-Claim-Application-Id") != "app-1" || seen.Get("X-Scopegate-Claim-Workflow-Id") != "wf-9" {
			t.Fatalf("claims not forwarded: %v", seen)
		}
		if status, body, _ := call(t, "POST", g.URL+"/v1/applications/app-2/sessions", sessTok, map[string]string{}); status != 403 ||
			!strings.Contains(body["error_description"].(string), "application_id") {
			t.Fatalf("session token on another application: %d %v", status, body)
		}
		if status, _, _ := call(t, "GET", g.URL+"/v1/applications/app-1", sessTok, nil); status != 403 {
			t.Fatalf("session token reading applications: %d", status)
		}

		// The claim's value is the client's to choose. Bound to
		// "applications", the path segment's name, a session token must not
		// reach app-2 through empty segments: routes match the path with its
		// slashes merged, while the numbered placeholder counts them.
		named := url.Values{"scope": {"application.session"}, "application_id": {"applications"}, "workflow_id": {"wf-9"}, "redirect_url": {"https://acme.example/bits/done"}}
		status, sess = bitsTokenRequest(t, g, id, secret, named)
		if status != 200 {
			t.Fatalf("session token for %q: %d %v", "applications", status, sess)
		}
		for _, path := range []string{"//v1/applications/app-2/sessions", "/v1//applications/app-2/sessions/x", "/v1/applications//app-2/sessions"} {
			status, body, _ := call(t, "POST", g.URL+path, sess["access_token"].(string), map[string]string{})
			if status != 400 || body["error"] != "invalid_request" {
				t.Errorf("POST %s with a token bound to %q: %d %v, want 400 invalid_request", path, "applications", status, body)
			}
		}
	})
}

// Bits' customer, exactly as the document has it: API credentials made
// with the three Bits scopes and nothing else (no default scopes), then the
// documented request (HTTP Basic, grant_type=client_credentials, no scope)
// answers 200 with "type": "Bearer", expires_in 3600 and "scope":
// "application", the document's answer: application.session is left out
// because the request carries none of its claims, and application.read
// comes with application. The token creates and reads applications but is
// no session token. Named explicitly, application.session still needs its
// claims, and with them it is granted.
func TestBitsDocumentedCredentials(t *testing.T) {
	eachDriverWith(t, "bits.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/v1/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "acme-backend",
			"scopes":        []string{"application", "application.read", "application.session"},
			"redirect_uris": []string{"https://acme.example/bits/done"}})

		status, tok := bitsTokenRequest(t, g, id, secret, nil)
		if status != 200 || tok["type"] != "Bearer" || tok["expires_in"] != float64(3600) || tok["scope"] != "application" {
			t.Fatalf("the documented request: %d %v, want the documented answer with scope application", status, tok)
		}
		access := tok["access_token"].(string)
		if status, body, _ := call(t, "POST", g.URL+"/v1/applications", access, map[string]string{"name": "loan"}); status != 200 || body["client_id"] != id {
			t.Fatalf("create an application: %d %v", status, body)
		}
		if status, _, _ := call(t, "GET", g.URL+"/v1/applications/app-1", access, nil); status != 200 {
			t.Fatalf("read an application: %d", status)
		}
		if status, _, h := call(t, "POST", g.URL+"/v1/applications/app-1/sessions", access, map[string]string{}); status != 403 || challenge(h) != "insufficient_scope" {
			t.Fatalf("a session with the bare token: %d", status)
		}
		// Fail closed: a path some upstream framework reads as the sessions
		// endpoint (a suffix matched, case ignored) gets the session guard:
		// 403 for the bare token. A path an upstream may resolve differently
		// (dot segments, ";params", a backslash, an escape left after
		// decoding, an empty segment) is refused outright: 400.
		for path, want := range map[string]int{
			"/v1/applications/app-1/sessions;x": 400, "/v1/applications/app-1/sessions.json": 403,
			"/v1/applications/app-1/Sessions": 403, "/v1/applications/app-1/session%2573": 400,
			"/v1/applications/app-1/sessions%20": 403, "/v1/applications/app-1/sessions%3Bx": 400,
			"/V1/applications/app-1/sessions": 403, "/v1/APPLICATIONS/app-1/sessions": 403,
			"/v1/applications/app-1/x/..;/sessions": 400,
			// An encoded slash: Caddy sees "app-1/x" as two segments (the
			// ordinary route), an upstream routing on the raw path the
			// sessions endpoint of application "app-1/x".
			"/v1/applications/app-1%2Fx/sessions": 400, "/v1/applications/app-1%2fx/sessions": 400,
			// Anything more in the "applications" segment is no route of
			// this file (an upstream trimming a segment's spaces or trailing
			// dots would serve sessions).
			"/v1/applications%20/app-1/sessions": 404, "/v1/applications./app-1/sessions": 404,
			"/v1/applications%C2%A0/app-1/sessions": 404, "/v1/applications~/app-1/sessions": 404,
			"/v1/applications.json":              404,
			"/v1/applications/app-1/sessions/..": 400, "/v1/applications/app-1/x/../sessions": 400,
			"/v1/applications/app-1%5Csessions": 400,
			// Letters outside ASCII that some case-insensitive matchers
			// take for ASCII ones (Java's equalsIgnoreCase: dotless ı,
			// dotted İ; NFKC: fullwidth ｓ), and a segment starting with
			// a blank or '+': all go to the session guard.
			"/v1/applications/app-1/sess%C4%B1ons": 403, "/v1/applications/app-1/SESS%C4%B0ONS": 403,
			"/v1/applications/app-1/%EF%BD%93essions": 403, "/v1/applications/app-1/%20sessions": 403,
			"/v1/applications/app-1/+sessions": 403,
			// An empty segment: the matchers see the path with its slashes
			// merged ("sessions" as the application id, the ordinary
			// route), an upstream may read "//sessions" as the sessions
			// of an application with an empty id (red team).
			"/v1/applications//sessions": 400, "/v1/applications///sessions/x": 400,
			"/v1/applications//Sessions.json": 400, "/v1/applications/app-1//sessions": 400,
			// Control: another sub-resource keeps the ordinary guard.
			"/v1/applications/app-1/workflows": 200,
		} {
			if status, body, _ := call(t, "POST", g.URL+path, access, map[string]string{}); status != want {
				t.Errorf("POST %s with the bare token: %d %v, want %d", path, status, body, want)
			}
		}

		// Only client_credentials is served here (grant_types).
		for _, grant := range []string{"authorization_code", "refresh_token"} {
			if status, body := tokenBasic(t, g, "/v1/oauth2/token", id, secret, url.Values{"grant_type": {grant}, "code": {"x"}, "refresh_token": {"x"}}); status != 400 || body["error"] != "unsupported_grant_type" {
				t.Errorf("grant_type=%s at Bits' token endpoint: %d %v, want 400 unsupported_grant_type", grant, status, body)
			}
		}

		status, refused := bitsTokenRequest(t, g, id, secret, url.Values{"scope": {"application.session"}})
		if status != 400 || refused["error"] != "invalid_request" || !strings.Contains(fmt.Sprint(refused["error_description"]), "application_id") {
			t.Fatalf("application.session named without its claims: %d %v", status, refused)
		}
		status, sess := bitsTokenRequest(t, g, id, secret, url.Values{"scope": {"application.session"}, "application_id": {"app-1"},
			"workflow_id": {"wf-9"}, "redirect_url": {"https://acme.example/bits/done"}})
		if status != 200 || sess["scope"] != "application.session" {
			t.Fatalf("application.session with its claims: %d %v", status, sess)
		}
		if status, _, _ := call(t, "POST", g.URL+"/v1/applications/app-1/sessions", sess["access_token"].(string), map[string]string{}); status != 200 {
			t.Fatalf("a session with the session token: %d", status)
		}
	})
}

// An admin who changes a Bits client's scopes through the admin API, with
// PATCH {"scopes": …} alone: taking "application" away from a client
// created with both scopes is accepted (not refused for the defaults the
// API filled in at creation) and the documented request (no scope
// parameter) then gets application.read; giving it back does not widen
// what that request gets (least privilege), while a request naming
// "application" gets it.
func TestBitsScopesChangedByAnAdmin(t *testing.T) {
	eachDriverWith(t, "bits.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/v1/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "acme-app", "scopes": []string{"application", "application.read"}})
		granted := func(when string, extra url.Values, want string) {
			t.Helper()
			if status, tok := bitsTokenRequest(t, g, id, secret, extra); status != 200 || tok["scope"] != want {
				t.Fatalf("%s: the documented request (%v) answered %d %v, want scope %s", when, extra, status, tok, want)
			}
		}
		patch := func(scopes ...string) {
			t.Helper()
			if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{"scopes": scopes}); status != 200 {
				t.Fatalf("PATCH scopes %v: %d %v", scopes, status, body)
			}
		}
		granted("created with both scopes", nil, "application")
		_, before := bitsTokenRequest(t, g, id, secret, url.Values{"scope": {"application"}})
		old, _ := before["access_token"].(string)
		if status, _, _ := call(t, "POST", g.URL+"/v1/applications", old, map[string]any{"name": "x"}); status != 200 {
			t.Fatalf("creating an application with an application token: %d, want 200", status)
		}
		patch("application.read")
		// The token granted application before keeps it no longer: 401
		// invalid_token (its client gets a new token), on reads as well,
		// and introspection reports it inactive.
		for _, method := range []string{"POST", "GET"} {
			status, _, h := call(t, method, g.URL+"/v1/applications/app-1", old, nil)
			if status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("%s with a token from before application was taken away: %d %q, want 401 invalid_token", method, status, h.Get("WWW-Authenticate"))
			}
		}
		if status, body := basicForm(t, g, "/v1/oauth2/introspect", id, secret, url.Values{"token": {old}}); status != 200 || body["active"] != false {
			t.Fatalf("introspection of a token from before application was taken away: %d %v, want inactive", status, body)
		}
		granted("after taking application away", nil, "application.read")
		patch("application.read", "application")
		granted("after giving application back", nil, "application.read")
		granted("after giving application back", url.Values{"scope": {"application"}}, "application")
	})
}
