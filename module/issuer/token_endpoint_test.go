package issuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// A client authenticating with HTTP Basic, with client_id/client_secret in a
// form body, or in a JSON body (scope as a string and as an array) gets a
// token answer per RFC 6749 §5.1: access_token, token_type Bearer, expires_in,
// exactly the granted scope and Cache-Control: no-store. The token verifies
// with App.Verify, has the RFC 9068 header (typ at+jwt, kid of the signing
// key) and carries iss, aud, sub, client_id, scope, jti, iat, exp, tenant
// and legs with the right values. A form body ending in a line break, as a
// request copied from a document has it, is read without it.
func TestIssueSuccessEveryAuthStyle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{
			AllowedScopes: store.Strings{"demo.read", "demo.write"},
			DefaultScopes: store.Strings{"demo.read"},
		})
		cases := []struct {
			name      string
			req       *http.Request
			wantScope string
		}{
			{"basic", withBasic(formRequest(ccForm("scope", "demo.write")), c.ID, secret), "demo.write"},
			{"basic with matching body client_id", withBasic(formRequest(ccForm("client_id", c.ID)), c.ID, secret), "demo.read"},
			{"form body", formRequest(ccForm("client_id", c.ID, "client_secret", secret, "scope", "demo.read demo.write")), "demo.read demo.write"},
			{"form without content type", rawRequest("", ccForm("client_id", c.ID, "client_secret", secret).Encode()), "demo.read"},
			// A request copied from a document, its body a line of its own.
			{"form body ending in CRLF", withBasic(rawRequest("application/x-www-form-urlencoded", "grant_type=client_credentials\r\n"), c.ID, secret), "demo.read"},
			{"form body ending in LF", rawRequest("application/x-www-form-urlencoded", ccForm("client_id", c.ID, "client_secret", secret).Encode()+"\n"), "demo.read"},
			{"json scope string", jsonRequest(map[string]any{
				"grant_type": "client_credentials", "client_id": c.ID, "client_secret": secret, "scope": "demo.write demo.read",
			}), "demo.write demo.read"},
			{"json scope array", jsonRequest(map[string]any{
				"grant_type": "client_credentials", "client_id": c.ID, "client_secret": secret, "scope": []string{"demo.read", "demo.write"},
			}), "demo.read demo.write"},
			{"json with an unrecognized object parameter", rawRequest("application/json",
				`{"grant_type":"client_credentials","client_id":"`+c.ID+`","client_secret":"`+secret+`","metadata":{"app":"x","tags":["a"]}}`), "demo.read"},
			{"json with charset and null", rawRequest("application/json; charset=utf-8",
				`{"grant_type":"client_credentials","client_id":"`+c.ID+`","client_secret":"`+secret+`","scope":null}`), "demo.read"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := time.Now().Add(-time.Second)
				res := serve(t, f.ep, tc.req)
				if res.Status != http.StatusOK {
					t.Fatalf("status %d: %s", res.Status, res.Raw)
				}
				if got := res.str("token_type"); got != "Bearer" {
					t.Errorf("token_type = %q, want Bearer", got)
				}
				if got, _ := res.Body["expires_in"].(float64); got != 3600 {
					t.Errorf("expires_in = %v, want 3600 (the app default of 1h)", res.Body["expires_in"])
				}
				if got := res.str("scope"); got != tc.wantScope {
					t.Errorf("scope = %q, want %q", got, tc.wantScope)
				}
				if _, ok := res.Body["refresh_token"]; ok {
					t.Error("client_credentials must not return a refresh token (RFC 6749 §4.4.3)")
				}
				if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Pragma") != "no-cache" {
					t.Errorf("caching headers %v, want no-store and no-cache", res.Header)
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}

				raw := res.str("access_token")
				claims := f.verify(t, raw)
				header, payload := jwtParts(t, raw)
				if header["typ"] != token.Type || header["alg"] != token.Algorithm {
					t.Errorf("header %v, want typ at+jwt and alg EdDSA", header)
				}
				if header["kid"] != f.app.Keys().SigningKID() || header["kid"] == "" {
					t.Errorf("kid = %v, want the signing key %q", header["kid"], f.app.Keys().SigningKID())
				}
				for _, k := range []string{"iss", "aud", "sub", "client_id", "scope", "jti", "iat", "exp", "tenant", "legs"} {
					if _, ok := payload[k]; !ok {
						t.Errorf("claim %q is missing from %v", k, payload)
					}
				}
				if claims.Issuer != apptest.Issuer || !slices.Equal([]string(claims.Audience), []string{apptest.Issuer}) {
					t.Errorf("iss %q aud %v, want %q", claims.Issuer, claims.Audience, apptest.Issuer)
				}
				if claims.Subject != c.ID || claims.ClientID != c.ID || claims.Tenant != store.DefaultTenantID || claims.Legs != 2 {
					t.Errorf("sub %q client_id %q tenant %q legs %d, want the client, default tenant, 2 legs",
						claims.Subject, claims.ClientID, claims.Tenant, claims.Legs)
				}
				if claims.Scope != tc.wantScope {
					t.Errorf("token scope %q, want %q", claims.Scope, tc.wantScope)
				}
				if len(claims.ID) < 16 {
					t.Errorf("jti %q is too short to be unique", claims.ID)
				}
				iat, exp := claims.IssuedAt.Time, claims.ExpiresAt.Time
				if iat.Before(before) || iat.After(time.Now().Add(time.Second)) || exp.Sub(iat) != time.Hour {
					t.Errorf("iat %v exp %v: want now and now+1h", iat, exp)
				}
			})
		}
	})
}

// RFC 6749 §2.3.1: id and secret are form-urlencoded before the base64
// step, so a client whose id and secret contain ':', '%', '+', '/', spaces
// and non-ASCII authenticates with Basic (and with the body, unencoded).
func TestIssueBasicEscapedCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		id := "svc:reports+eu 100%/é"
		secret := "p@ss:w%rd+/= ünïcode&x=y"
		f.clientWithSecret(store.Client{ID: id, AllowedScopes: store.Strings{"demo.read"}}, secret, "", nil)

		res, claims := f.issue(t, f.ep, id, secret)
		if claims.ClientID != id || res.str("scope") != "demo.read" {
			t.Fatalf("client_id %q scope %q, want %q demo.read", claims.ClientID, res.str("scope"), id)
		}
		// The same credentials in the body need no extra encoding.
		res = serve(t, f.ep, formRequest(ccForm("client_id", id, "client_secret", secret)))
		if res.Status != http.StatusOK {
			t.Fatalf("body credentials: %d %s", res.Status, res.Raw)
		}
		// Without the urlencoding step, the first colon of the id splits it:
		// the request is refused as invalid_client, not a 500.
		r := formRequest(ccForm())
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
		f.refuse(t, f.ep, r, http.StatusUnauthorized, oauth.InvalidClient)
	})
}

// Every malformed or unauthorised request is answered with the RFC 6749
// §5.2 code and status it deserves (never 500, never a panic), a JSON body
// with no-store, a Basic challenge on invalid_client, Allow on 405 and
// Retry-After nowhere; no client secret appears in any answer or log line.
func TestTokenRequestErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		disabled, disabledSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, Disabled: true})
		userApp, userAppSecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}})
		wrongSecret := "not-the-secret-" + strings.Repeat("x", 20)
		secrets := []string{secret, disabledSecret, userAppSecret, wrongSecret}

		ok := func() url.Values { return ccForm("client_id", c.ID, "client_secret", secret) }
		auth := func(r *http.Request, values ...string) *http.Request {
			for _, v := range values {
				r.Header.Add("Authorization", v)
			}
			return r
		}
		big := ok()
		big.Set("padding", strings.Repeat("a", MaxBodyBytes))

		cases := []struct {
			name   string
			req    *http.Request
			status int
			code   string
			desc   string // part of error_description, when it matters
		}{
			{"GET", httptest.NewRequest(http.MethodGet, "/oauth2/token?"+ok().Encode(), nil), 405, oauth.InvalidRequest, "POST"},
			{"missing grant_type", withBasic(formRequest(url.Values{"scope": {"demo.read"}}), c.ID, secret), 400, oauth.InvalidRequest, "grant_type"},
			{"empty grant_type", withBasic(formRequest(url.Values{"grant_type": {""}}), c.ID, secret), 400, oauth.InvalidRequest, "grant_type"},
			{"unknown grant_type", withBasic(formRequest(url.Values{"grant_type": {"password"}}), c.ID, secret), 400, oauth.UnsupportedGrantType, "password"},
			{"wrong secret", withBasic(formRequest(ccForm()), c.ID, wrongSecret), 401, oauth.InvalidClient, "unknown client or wrong secret"},
			{"wrong secret in body", formRequest(ccForm("client_id", c.ID, "client_secret", wrongSecret)), 401, oauth.InvalidClient, "unknown client or wrong secret"},
			{"unknown client", withBasic(formRequest(ccForm()), "sg_nobody", secret), 401, oauth.InvalidClient, "unknown client or wrong secret"},
			{"no credentials", formRequest(ccForm()), 401, oauth.InvalidClient, "authentication is required"},
			{"client_id without secret", formRequest(ccForm("client_id", c.ID)), 401, oauth.InvalidClient, "secret is missing"},
			{"empty Basic secret", withBasic(formRequest(ccForm()), c.ID, ""), 401, oauth.InvalidClient, "secret is missing"},
			{"disabled client", withBasic(formRequest(ccForm()), disabled.ID, disabledSecret), 401, oauth.InvalidClient, "disabled"},
			{"user auth-method client", withBasic(formRequest(ccForm()), userApp.ID, userAppSecret), 400, oauth.UnauthorizedClient, "authorize endpoint"},
			{"grant_type twice", withBasic(rawRequest("application/x-www-form-urlencoded",
				"grant_type=client_credentials&grant_type=client_credentials"), c.ID, secret), 400, oauth.InvalidRequest, "grant_type is repeated"},
			{"client_secret twice", rawRequest("application/x-www-form-urlencoded",
				ok().Encode()+"&client_secret="+url.QueryEscape(secret)), 400, oauth.InvalidRequest, "client_secret is repeated"},
			{"two Authorization headers", auth(formRequest(ccForm()), basic(c.ID, secret), basic(c.ID, secret)), 400, oauth.InvalidRequest, "repeated"},
			{"Basic plus body client_secret", withBasic(formRequest(ccForm("client_secret", secret)), c.ID, secret), 400, oauth.InvalidRequest, "not both"},
			{"Basic id differs from body client_id", withBasic(formRequest(ccForm("client_id", "sg_other")), c.ID, secret), 400, oauth.InvalidRequest, "differs"},
			{"Basic not base64", auth(formRequest(ccForm()), "Basic ***not base64***"), 401, oauth.InvalidClient, "base64"},
			{"Basic without colon", auth(formRequest(ccForm()), "Basic "+base64.StdEncoding.EncodeToString([]byte(c.ID+secret))), 401, oauth.InvalidClient, "colon"},
			{"Basic with empty id", auth(formRequest(ccForm()), "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+secret))), 401, oauth.InvalidClient, "empty"},
			{"Basic id not urlencoded", auth(formRequest(ccForm()), "Basic "+base64.StdEncoding.EncodeToString([]byte("a%zz:"+secret))), 401, oauth.InvalidClient, "client id"},
			{"Basic secret not urlencoded", auth(formRequest(ccForm()), "Basic "+base64.StdEncoding.EncodeToString([]byte(c.ID+":%zz"+secret))), 401, oauth.InvalidClient, "client secret"},
			{"Bearer scheme", auth(formRequest(ccForm()), "Bearer "+secret), 401, oauth.InvalidClient, "Basic scheme"},
			// A leftover bearer header beside body credentials is a wrong
			// scheme, not "two methods".
			{"Bearer beside body credentials", auth(formRequest(ccForm("client_id", c.ID, "client_secret", secret)), "Bearer stale"), 401, oauth.InvalidClient, "Basic scheme"},
			{"scheme only", auth(formRequest(ccForm()), "Basic"), 401, oauth.InvalidClient, "Basic scheme"},
			{"empty Authorization", auth(formRequest(ccForm()), ""), 401, oauth.InvalidClient, "Basic scheme"},
			{"body over 64 KiB", formRequest(big), 413, oauth.InvalidRequest, "larger than"},
			{"broken JSON", rawRequest("application/json", `{"grant_type":"client_credentials","client_secret":"`+secret), 400, oauth.InvalidRequest, "malformed"},
			{"JSON not an object", rawRequest("application/json", `["client_credentials"]`), 400, oauth.InvalidRequest, "malformed"},
			{"JSON trailing data", rawRequest("application/json", `{"grant_type":"client_credentials"} {}`), 400, oauth.InvalidRequest, "trailing"},
			{"JSON extra closing brace", rawRequest("application/json", `{"grant_type":"client_credentials"}}`), 400, oauth.InvalidRequest, ""},
			{"JSON repeated key", rawRequest("application/json",
				`{"grant_type":"client_credentials","client_id":"`+c.ID+`","client_secret":"`+secret+`","scope":"demo.read","scope":"scopegate.admin"}`),
				400, oauth.InvalidRequest, "scope is repeated"},
			// An object or array is its JSON text: as a grant type, no
			// grant type.
			{"JSON object value", rawRequest("application/json", `{"grant_type":{"a":"b"}}`), 400, oauth.UnsupportedGrantType, "is not supported"},
			{"JSON array outside scope", rawRequest("application/json", `{"grant_type":["client_credentials"]}`), 400, oauth.UnsupportedGrantType, "is not supported"},
			{"JSON scope array of numbers", rawRequest("application/json", `{"grant_type":"client_credentials","scope":[1]}`), 400, oauth.InvalidRequest, "array of scope names"},
			{"malformed form", rawRequest("application/x-www-form-urlencoded", "grant_type=%zz"), 400, oauth.InvalidRequest, "malformed"},
			{"malformed Content-Type", rawRequest("application/json; =", "{}"), 400, oauth.InvalidRequest, "Content-Type"},
			{"text/plain", rawRequest("text/plain", ok().Encode()), 415, oauth.InvalidRequest, "text/plain"},
			{"multipart", rawRequest("multipart/form-data; boundary=x", "--x--"), 415, oauth.InvalidRequest, "multipart/form-data"},
			{"user_id without AllowUserTokens", formRequest(ccForm("client_id", c.ID, "client_secret", secret, "user_id", "someone")), 400, oauth.UnauthorizedClient, "user_id"},
			{"unknown scope", formRequest(ccForm("client_id", c.ID, "client_secret", secret, "scope", "nope")), 400, oauth.InvalidScope, `'nope'`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := f.refuse(t, f.ep, tc.req, tc.status, tc.code)
				desc := res.str("error_description")
				if !strings.Contains(desc, tc.desc) {
					t.Errorf("error_description %q does not mention %q", desc, tc.desc)
				}
				if desc == "" {
					t.Error("no error_description")
				}
				for _, s := range secrets {
					if strings.Contains(res.Raw, s) {
						t.Errorf("a client secret is echoed in %s", res.Raw)
					}
				}
				if _, leaked := res.Body["access_token"]; leaked {
					t.Errorf("refused request got an access_token: %s", res.Raw)
				}
				switch tc.code {
				case oauth.InvalidClient:
					if got := res.Header.Get("WWW-Authenticate"); got != `Basic realm="scopegate"` {
						t.Errorf("WWW-Authenticate = %q, want the Basic challenge", got)
					}
				default:
					if got := res.Header.Get("WWW-Authenticate"); got != "" {
						t.Errorf("WWW-Authenticate = %q on %s", got, tc.code)
					}
				}
				if tc.status == http.StatusMethodNotAllowed && res.Header.Get("Allow") != http.MethodPost {
					t.Errorf("Allow = %q, want POST", res.Header.Get("Allow"))
				}
				if res.Header.Get("Retry-After") != "" {
					t.Errorf("Retry-After on %s", tc.code)
				}
			})
		}
		// Unknown client and wrong secret read the same: which one was
		// wrong is never told.
		a := serve(t, f.ep, withBasic(formRequest(ccForm()), "sg_nobody", secret))
		b := serve(t, f.ep, withBasic(formRequest(ccForm()), c.ID, wrongSecret))
		if a.Raw != b.Raw {
			t.Errorf("unknown client %s and wrong secret %s answer differently", a.Raw, b.Raw)
		}
		logged := f.loggedText()
		if !strings.Contains(logged, "token request refused") {
			t.Errorf("refusals are not logged at debug level: %q", logged)
		}
		for _, s := range secrets {
			if strings.Contains(logged, s) {
				t.Errorf("a client secret was logged: %q", logged)
			}
		}
	})
}

// A body of exactly 64 KiB is still read (the limit is inclusive); one byte
// more is refused with 413.
func TestBodyLimitBoundary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		base := ccForm("client_id", c.ID, "client_secret", secret).Encode() + "&pad="
		body := base + strings.Repeat("a", MaxBodyBytes-len(base))
		if res := serve(t, f.ep, rawRequest("application/x-www-form-urlencoded", body)); res.Status != http.StatusOK {
			t.Fatalf("a %d-byte body: %d %s", len(body), res.Status, res.Raw)
		}
		f.refuse(t, f.ep, rawRequest("application/x-www-form-urlencoded", body+"a"), http.StatusRequestEntityTooLarge, oauth.InvalidRequest)
	})
}

// The realm option names the Basic challenge sent with invalid_client.
func TestRealm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		h := f.endpoint(&TokenEndpoint{Realm: `my "gateway"`})
		res := f.refuse(t, h, formRequest(ccForm()), http.StatusUnauthorized, oauth.InvalidClient)
		if got := res.Header.Get("WWW-Authenticate"); got != `Basic realm="my 'gateway'"` {
			t.Fatalf("WWW-Authenticate = %q, want the configured realm with quotes made safe", got)
		}
	})
}

// response_aliases repeat a standard field under another name next to the
// standard one; token_type changes the token_type value (aliases copy it).
func TestResponseAliasesAndTokenType(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		h := f.endpoint(&TokenEndpoint{
			ResponseAliases: map[string]string{"type": "token_type", "accessToken": "access_token", "expiresIn": "expires_in", "refreshToken": "refresh_token"},
			TokenType:       "bearer",
		})
		res, _ := f.issue(t, h, c.ID, secret)
		if res.str("type") != "bearer" || res.str("token_type") != "bearer" {
			t.Errorf("type %q token_type %q, want both bearer", res.str("type"), res.str("token_type"))
		}
		if res.str("accessToken") == "" || res.str("accessToken") != res.str("access_token") {
			t.Errorf("accessToken does not repeat access_token: %s", res.Raw)
		}
		if res.Body["expiresIn"] != res.Body["expires_in"] || res.Body["expires_in"] == nil {
			t.Errorf("expiresIn does not repeat expires_in: %s", res.Raw)
		}
		if _, ok := res.Body["refreshToken"]; ok {
			t.Errorf("alias of an absent refresh_token must be absent: %s", res.Raw)
		}
	})
}

// Without aliases the answer is written from a struct: byte for byte the
// JSON of the standard fields' map (answerFields) that the aliases build
// on, with and without a refresh token, with characters JSON escapes.
func TestStandardAnswerIsTheMapsJSON(t *testing.T) {
	e := &TokenEndpoint{TokenType: "Bearer"}
	for _, t0 := range []*Issued{
		{AccessToken: "a.b.c", ExpiresIn: 3600, Scope: "demo.read demo.write"},
		{AccessToken: "x<y>&\"z", ExpiresIn: 1, Scope: "s", RefreshToken: "r\u2028t"},
	} {
		rec := httptest.NewRecorder()
		e.write(rec, t0)
		var want bytes.Buffer
		_ = json.NewEncoder(&want).Encode(e.answerFields(t0))
		if rec.Body.String() != want.String() {
			t.Errorf("answer\n %s want\n %s", rec.Body, &want)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", rec.Header())
		}
	}
}

// Validate accepts aliases of the standard fields and rejects an alias of an
// unknown field, and one that would overwrite a standard field (the
// standard fields must stay intact for OAuth libraries).
func TestValidateAliases(t *testing.T) {
	for _, tc := range []struct {
		aliases map[string]string
		err     string
	}{
		{map[string]string{"type": "token_type", "token": "access_token", "ttl": "expires_in", "scopes": "scope", "refresh": "refresh_token"}, ""},
		{map[string]string{"type": "kind"}, `unknown field "kind"`},
		{map[string]string{"type": ""}, `unknown field ""`},
		{map[string]string{"token_type": "scope"}, "standard field"},
		{map[string]string{"access_token": "access_token"}, "standard field"},
		{map[string]string{"": "scope"}, "empty"},
	} {
		err := (&TokenEndpoint{ResponseAliases: tc.aliases}).Validate()
		if tc.err == "" && err != nil {
			t.Errorf("%v: %v", tc.aliases, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: err %v, want one mentioning %q", tc.aliases, err, tc.err)
		}
	}
}

// setup fills the defaults (Bearer, realm scopegate, every grant) and
// refuses an unknown grant type; grant_types narrows what is accepted.
func TestSetupDefaultsAndGrantTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		if f.ep.TokenType != "Bearer" || f.ep.Realm != "scopegate" || !slices.Equal(f.ep.GrantTypes, GrantTypes()) {
			t.Errorf("defaults %q %q %v", f.ep.TokenType, f.ep.Realm, f.ep.GrantTypes)
		}
		if !slices.Contains(GrantTypes(), "client_credentials") {
			t.Errorf("GrantTypes() = %v lacks client_credentials", GrantTypes())
		}
		bad := &TokenEndpoint{GrantTypes: []string{"client_credentials", "password"}}
		if err := bad.setup(f.app, f.log); err == nil || !strings.Contains(err.Error(), `"password"`) {
			t.Errorf("unknown grant type: err %v", err)
		}
		// An endpoint with no client_credentials answers unsupported_grant_type.
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		none := &TokenEndpoint{enabled: map[string]Grant{}}
		none.app, none.logger, none.TokenType, none.Realm = f.app, f.log, "Bearer", "scopegate"
		f.refuse(t, none, withBasic(formRequest(ccForm()), c.ID, secret), http.StatusBadRequest, oauth.UnsupportedGrantType)
	})
}

// A database outage is a 503 temporarily_unavailable with a generic
// description: no driver detail reaches the client, and a connect-as client
// whose user cannot be loaded is not told its grant is invalid.
func TestDatabaseFailureHidesDetails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.user(store.DefaultTenantID, "svc", false)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, ConnectAsUserID: &u.ID})
		f.issue(t, f.ep, c.ID, secret) // warms the client cache
		if err := f.app.Store().Close(); err != nil {
			t.Fatal(err)
		}
		res := f.refuse(t, f.ep, withBasic(formRequest(ccForm()), c.ID, secret), http.StatusServiceUnavailable, oauth.TemporarilyUnavail)
		if got := res.str("error_description"); got != oauth.ErrUnavailable(store.RetryAfter).Description {
			t.Errorf("description %q leaks detail", got)
		}
		if !strings.Contains(f.loggedText(), "loading user") {
			t.Errorf("the failure is not logged: %s", f.loggedText())
		}
	})
}
