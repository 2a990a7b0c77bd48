package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Scope resolution: no scope parameter grants the client's default scopes
// (or, with none, its allowed scopes) minus those another of them implies
// (demo.write stands for demo.read); a requested subset is granted
// exactly, in request order, without duplicates; a catalogue scope the
// client was not given, or a scope the catalogue does not know, is
// invalid_scope; so is a client with no scopes at all.
func TestScopeResolution(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{
			AllowedScopes: store.Strings{"demo.read", "demo.write", "global"},
			DefaultScopes: store.Strings{"demo.read", "global"},
		})
		noDefaults, noDefaultsSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.write", "demo.read"}})
		empty, emptySecret := f.client(store.Client{})

		for _, tc := range []struct {
			id, secret, param, want string
		}{
			{c.ID, secret, "", "demo.read global"},
			{c.ID, secret, "   ", "demo.read global"},
			{c.ID, secret, "demo.write", "demo.write"},
			{c.ID, secret, "global demo.read", "global demo.read"},
			{c.ID, secret, " demo.write demo.read demo.write ", "demo.write demo.read"}, // spaces around the list are forgiven, not between (TestScopeParameterStrict)
			{noDefaults.ID, noDefaultsSecret, "", "demo.write"},
			{noDefaults.ID, noDefaultsSecret, "demo.write demo.read", "demo.write demo.read"},
		} {
			kv := []string{}
			if tc.param != "" {
				kv = []string{"scope", tc.param}
			}
			res, claims := f.issue(t, f.ep, tc.id, tc.secret, kv...)
			if res.str("scope") != tc.want || claims.Scope != tc.want {
				t.Errorf("scope=%q: answer %q token %q, want %q", tc.param, res.str("scope"), claims.Scope, tc.want)
			}
		}
		for _, tc := range []struct {
			id, secret, param, desc string
		}{
			{c.ID, secret, "user.only", `'user.only' has not been assigned`},
			{c.ID, secret, "demo.read scopegate.admin", `'scopegate.admin' has not been assigned`},
			{c.ID, secret, "demo.read nope", `unknown scope 'nope'`},
			{empty.ID, emptySecret, "", "no scopes"},
		} {
			req := withBasic(formRequest(ccForm("scope", tc.param)), tc.id, tc.secret)
			if tc.param == "" {
				req = withBasic(formRequest(ccForm()), tc.id, tc.secret)
			}
			res := f.refuse(t, f.ep, req, http.StatusBadRequest, oauth.InvalidScope)
			if !strings.Contains(res.str("error_description"), tc.desc) {
				t.Errorf("scope=%q: %q does not say %q", tc.param, res.str("error_description"), tc.desc)
			}
		}
	})
}

// Users: user_id (or Nitro's userId, by id or username) makes a 3-legged
// token for that user (sub = user id, legs 3) only for a client with
// AllowUserTokens, else unauthorized_client; an unknown user, a disabled
// user and a user of another tenant are invalid_grant. A connect-as client
// always gets 3-legged tokens for its user, and invalid_grant once that
// user is disabled. user_id and userId together are invalid_request.
func TestUserBoundTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.tenant("other")
		alice := f.user(store.DefaultTenantID, "alice", false)
		bob := f.user(store.DefaultTenantID, "bob", true)
		mallory := f.user("other", "mallory", false)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "user.only"}, AllowUserTokens: true})
		plain, plainSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})

		for _, kv := range [][]string{{"user_id", alice.ID}, {"userId", alice.ID}, {"user_id", "alice"}} {
			_, claims := f.issue(t, f.ep, c.ID, secret, kv...)
			if claims.Subject != alice.ID || claims.Legs != 3 || claims.UserID() != alice.ID || claims.ClientID != c.ID {
				t.Errorf("%v: sub %q legs %d client %q, want alice 3-legged for the client", kv, claims.Subject, claims.Legs, claims.ClientID)
			}
		}
		// JSON body, user_id as a string.
		res := serve(t, f.ep, jsonRequest(map[string]any{
			"grant_type": "client_credentials", "client_id": c.ID, "client_secret": secret, "userId": alice.ID, "scope": []string{"user.only"},
		}))
		if res.Status != http.StatusOK || f.verify(t, res.str("access_token")).Subject != alice.ID {
			t.Errorf("JSON userId: %d %s", res.Status, res.Raw)
		}

		// Both spellings at once: which one was meant is unknowable, so
		// invalid_request, in a form and in JSON. An empty one is no
		// parameter (RFC 6749 §3.2): the other names the user.
		if _, claims := f.issue(t, f.ep, c.ID, secret, "user_id", "", "userId", alice.ID); claims.Subject != alice.ID || claims.Legs != 3 {
			t.Errorf("empty user_id, userId alice: sub %q legs %d, want alice's 3-legged token", claims.Subject, claims.Legs)
		}
		for _, form := range []url.Values{ccForm("user_id", alice.ID, "userId", bob.ID)} {
			res := f.refuse(t, f.ep, withBasic(formRequest(form), c.ID, secret), http.StatusBadRequest, oauth.InvalidRequest)
			if d := res.str("error_description"); !strings.Contains(d, "user_id") || !strings.Contains(d, "userId") {
				t.Errorf("both spellings: description %q", d)
			}
		}
		f.refuse(t, f.ep, jsonRequest(map[string]any{
			"grant_type": "client_credentials", "client_id": c.ID, "client_secret": secret, "userId": alice.ID, "user_id": bob.ID,
		}), http.StatusBadRequest, oauth.InvalidRequest)

		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("user_id", alice.ID)), plain.ID, plainSecret), http.StatusBadRequest, oauth.UnauthorizedClient)
		if !strings.Contains(res.str("error_description"), "user_id") {
			t.Errorf("unauthorized_client description %q", res.str("error_description"))
		}
		for name, user := range map[string]string{
			"unknown user":            "nobody",
			"disabled user":           bob.ID,
			"user of another tenant":  mallory.ID,
			"another tenant username": "mallory",
		} {
			res := f.refuse(t, f.ep, withBasic(formRequest(ccForm("user_id", user)), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)
			if res.str("error_description") == "" {
				t.Errorf("%s: no description", name)
			}
		}
		long := strings.Repeat("u", 5000)
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("user_id", long)), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)
		if len(res.str("error_description")) > 200 {
			t.Errorf("a long user_id is echoed in full: %d bytes", len(res.str("error_description")))
		}

		// Connect-as: the client's tokens act for its fixed user.
		svc := f.user(store.DefaultTenantID, "svc", false)
		conn, connSecret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, ConnectAsUserID: &svc.ID})
		res, claims := f.issue(t, f.ep, conn.ID, connSecret)
		if claims.Subject != svc.ID || claims.Legs != 3 || res.str("scope") != "user.only" {
			t.Errorf("connect-as: sub %q legs %d scope %q, want svc 3-legged user.only", claims.Subject, claims.Legs, res.str("scope"))
		}
		gone := f.user(store.DefaultTenantID, "gone", true)
		connGone, connGoneSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, ConnectAsUserID: &gone.ID})
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm()), connGone.ID, connGoneSecret), http.StatusBadRequest, oauth.InvalidGrant)
		if !strings.Contains(res.str("error_description"), "connects as") {
			t.Errorf("connect-as with a disabled user: %q", res.str("error_description"))
		}
	})
}

// A connect-as client always gets tokens for its fixed user, even when it
// may also ask for user tokens: a user_id naming someone else is
// invalid_request saying why (and mints nothing), while user_id or userId
// naming the fixed user, by id or username, is the same token as none, and
// such tokens carry the connect-as mark (cas) that a plain user_id token lacks.
func TestConnectAsFixedUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		svc := f.user(store.DefaultTenantID, "svc", false)
		victim := f.user(store.DefaultTenantID, "victim", false)
		conn, secret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, ConnectAsUserID: &svc.ID, AllowUserTokens: true})
		for _, kv := range [][]string{{"user_id", victim.ID}, {"userId", victim.ID}, {"user_id", "victim"}, {"user_id", "nobody"}} {
			res := f.refuse(t, f.ep, withBasic(formRequest(ccForm(kv...)), conn.ID, secret), http.StatusBadRequest, oauth.InvalidRequest)
			if d := res.str("error_description"); !strings.Contains(d, "connects as a fixed user") {
				t.Errorf("%v: description %q", kv, d)
			}
			if res.str("access_token") != "" {
				t.Errorf("%v: a token was issued", kv)
			}
		}
		for _, kv := range [][]string{nil, {"user_id", svc.ID}, {"userId", svc.ID}, {"user_id", "svc"}} {
			_, claims := f.issue(t, f.ep, conn.ID, secret, kv...)
			if claims.Subject != svc.ID || claims.Legs != 3 || claims.Act != nil || !claims.ConnectAs {
				t.Errorf("%v: sub %q legs %d act %v cas %v, want the fixed user, 3-legged, no act, marked connect-as", kv, claims.Subject, claims.Legs, claims.Act, claims.ConnectAs)
			}
		}
		// A user_id token of an ordinary client is not marked connect-as.
		plain, plainSecret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, AllowUserTokens: true})
		if _, claims := f.issue(t, f.ep, plain.ID, plainSecret, "user_id", victim.ID); claims.ConnectAs || claims.Subject != victim.ID {
			t.Errorf("a user_id token: sub %q cas %v", claims.Subject, claims.ConnectAs)
		}
	})
}

// Legs: a 3-legged scope (user.only) named without a user is invalid_scope
// mentioning 3-legged; a 2-legged scope (global) named with a user is
// invalid_scope mentioning 2-legged; each is granted with the right kind. A
// request naming no scope gets the default scopes that fit the kind of
// token asked for (Nitro's studio client holds both kinds), and
// invalid_scope saying why when none does.
func TestScopeLegs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.user(store.DefaultTenantID, "alice", false)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "user.only", "global"}, AllowUserTokens: true})

		res := f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", "demo.read user.only")), c.ID, secret), http.StatusBadRequest, oauth.InvalidScope)
		if d := res.str("error_description"); !strings.Contains(d, "3-legged") || !strings.Contains(d, "user.only") {
			t.Errorf("user.only without a user: %q", d)
		}
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", "global", "user_id", u.ID)), c.ID, secret), http.StatusBadRequest, oauth.InvalidScope)
		if d := res.str("error_description"); !strings.Contains(d, "2-legged") || !strings.Contains(d, "global") {
			t.Errorf("global with a user: %q", d)
		}
		// Defaults (all allowed scopes) mix both kinds: each kind of token
		// gets the ones that fit it.
		if res, claims := f.issue(t, f.ep, c.ID, secret); res.str("scope") != "demo.read global" || claims.Legs != 2 {
			t.Errorf("no scope, no user: %q legs %d, want demo.read global, 2-legged", res.str("scope"), claims.Legs)
		}
		if res, claims := f.issue(t, f.ep, c.ID, secret, "user_id", u.ID); res.str("scope") != "demo.read user.only" || claims.Legs != 3 {
			t.Errorf("no scope, a user: %q legs %d, want demo.read user.only, 3-legged", res.str("scope"), claims.Legs)
		}
		// Nothing fits: invalid_scope naming the scope and the kind it needs.
		userOnly, userOnlySecret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, AllowUserTokens: true})
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm()), userOnly.ID, userOnlySecret), http.StatusBadRequest, oauth.InvalidScope)
		if d := res.str("error_description"); !strings.Contains(d, "no default scope") || !strings.Contains(d, `'user.only' needs a 3-legged token`) {
			t.Errorf("no scope fits a 2-legged token: %q", d)
		}
		globalOnly, globalOnlySecret := f.client(store.Client{AllowedScopes: store.Strings{"global", "user.only"}, DefaultScopes: store.Strings{"global"}, AllowUserTokens: true})
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("user_id", u.ID)), globalOnly.ID, globalOnlySecret), http.StatusBadRequest, oauth.InvalidScope)
		if d := res.str("error_description"); !strings.Contains(d, "no default scope") || !strings.Contains(d, `'global' needs a 2-legged token`) {
			t.Errorf("no default scope fits a 3-legged token: %q", d)
		}

		if _, claims := f.issue(t, f.ep, c.ID, secret, "scope", "user.only demo.read", "user_id", u.ID); claims.Legs != 3 {
			t.Errorf("user.only with a user: legs %d", claims.Legs)
		}
		if _, claims := f.issue(t, f.ep, c.ID, secret, "scope", "global demo.read"); claims.Legs != 2 {
			t.Errorf("global without a user: legs %d", claims.Legs)
		}
	})
}

func withSessionScope(a *app.App) {
	a.Scopes = append(append([]scope.Scope{}, a.Scopes...), scope.Scope{
		Name: "application.session", RequiredClaims: []string{"application_id", "workflow_id", "redirect_url"},
	})
}

// Required claims: a scope with RequiredClaims needs each as a request
// parameter (invalid_request naming the first missing one); redirect_url
// must be one the client registered; values over 512 characters, with
// control characters or not UTF-8 are refused; with all present the token's ext carries exactly them, and
// scopes without required claims add no ext.
func TestRequiredClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, withSessionScope)
		c, secret := f.client(store.Client{
			AllowedScopes: store.Strings{"demo.read", "application.session"},
			DefaultScopes: store.Strings{"demo.read"},
			RedirectURIs:  store.Strings{"https://app.example/cb", "https://app.example/other"},
		})
		req := func(kv ...string) *http.Request {
			return withBasic(formRequest(ccForm(append([]string{"scope", "application.session"}, kv...)...)), c.ID, secret)
		}
		for _, tc := range []struct {
			kv   []string
			desc string
		}{
			{nil, "application_id"},
			{[]string{"application_id", "app1"}, "workflow_id"},
			{[]string{"application_id", "app1", "workflow_id", ""}, "workflow_id"},
			{[]string{"application_id", "app1", "workflow_id", "wf1"}, "redirect_url"},
			{[]string{"application_id", "app1", "workflow_id", "wf1", "redirect_url", "https://evil.example/cb"}, "registered redirect"},
			{[]string{"application_id", "app1", "workflow_id", "wf1", "redirect_url", "https://app.example/cb/"}, "registered redirect"},
			{[]string{"application_id", strings.Repeat("a", 513), "workflow_id", "wf1", "redirect_url", "https://app.example/cb"}, "512"},
			// The values become identity headers: no line breaks or other
			// controls, only UTF-8.
			{[]string{"application_id", "a\r\nX-Scopegate-User-Id: evil", "workflow_id", "wf1", "redirect_url", "https://app.example/cb"}, "control characters"},
			{[]string{"application_id", "app1", "workflow_id", "w\x00f", "redirect_url", "https://app.example/cb"}, "control characters"},
			{[]string{"application_id", "a\xffb", "workflow_id", "wf1", "redirect_url", "https://app.example/cb"}, "UTF-8"},
		} {
			res := f.refuse(t, f.ep, req(tc.kv...), http.StatusBadRequest, oauth.InvalidRequest)
			if !strings.Contains(res.str("error_description"), tc.desc) {
				t.Errorf("%v: %q does not name %q", tc.kv, res.str("error_description"), tc.desc)
			}
		}
		res, claims := f.issue(t, f.ep, c.ID, secret, "scope", "application.session demo.read",
			"application_id", "app1", "workflow_id", "wf1", "redirect_url", "https://app.example/other", "unrelated", "x")
		if _, payload := jwtParts(t, res.str("access_token")); payload["ext"] == nil {
			t.Errorf("the token has no ext claim: %v", payload)
		}
		want := map[string]string{"application_id": "app1", "workflow_id": "wf1", "redirect_url": "https://app.example/other"}
		if len(claims.Ext) != len(want) {
			t.Errorf("ext = %v, want %v", claims.Ext, want)
		}
		for k, v := range want {
			if claims.Ext[k] != v {
				t.Errorf("ext[%s] = %q, want %q", k, claims.Ext[k], v)
			}
		}
		if _, claims := f.issue(t, f.ep, c.ID, secret); claims.Ext != nil {
			t.Errorf("a token without claim-requiring scopes has ext %v", claims.Ext)
		}
		// JSON numbers are taken as their text.
		res = serve(t, f.ep, jsonRequest(map[string]any{
			"grant_type": "client_credentials", "client_id": c.ID, "client_secret": secret, "scope": []string{"application.session"},
			"application_id": 42, "workflow_id": true, "redirect_url": "https://app.example/cb",
		}))
		if res.Status != http.StatusOK {
			t.Fatalf("JSON claims: %d %s", res.Status, res.Raw)
		}
		if ext := f.verify(t, res.str("access_token")).Ext; ext["application_id"] != "42" || ext["workflow_id"] != "true" {
			t.Errorf("JSON claims ext %v", ext)
		}
	})
}

// Bits: a customer's credentials made with the three Bits scopes and
// nothing else answer the documented request (no scope, no claims) with
// the scopes it can satisfy: application.session needs claims the request
// lacks, so it is left out, and application.read comes with application
// (here demo.write and demo.read). With the claims the session scope is
// granted too. Named explicitly, a scope still needs its claims; a client
// whose only default scope lacks them is told which. Default scopes set on
// the client lose the implied ones the same way (the admin API sets them to
// the client's scopes when none are given).
func TestDefaultScopesWithClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, withSessionScope)
		c, secret := f.client(store.Client{
			AllowedScopes: store.Strings{"demo.write", "demo.read", "application.session"},
			RedirectURIs:  store.Strings{"https://app.example/cb"},
		})
		res, claims := f.issue(t, f.ep, c.ID, secret)
		if res.str("scope") != "demo.write" || claims.Ext != nil {
			t.Errorf("no scope, no claims: %q ext %v, want demo.write and no claims", res.str("scope"), claims.Ext)
		}
		session := []string{"application_id", "app1", "workflow_id", "wf1", "redirect_url", "https://app.example/cb"}
		res, claims = f.issue(t, f.ep, c.ID, secret, session...)
		if res.str("scope") != "demo.write application.session" || claims.Ext["application_id"] != "app1" {
			t.Errorf("no scope, the claims: %q ext %v", res.str("scope"), claims.Ext)
		}
		// Present but wrong is still wrong.
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("application_id", "app1", "workflow_id", "wf1", "redirect_url", "https://evil.example/cb")), c.ID, secret),
			http.StatusBadRequest, oauth.InvalidRequest)
		if !strings.Contains(res.str("error_description"), "registered redirect") {
			t.Errorf("a default scope with a bad claim: %q", res.str("error_description"))
		}
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", "application.session")), c.ID, secret), http.StatusBadRequest, oauth.InvalidRequest)
		if !strings.Contains(res.str("error_description"), "application_id") {
			t.Errorf("application.session named without claims: %q", res.str("error_description"))
		}
		only, onlySecret := f.client(store.Client{AllowedScopes: store.Strings{"application.session"}})
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm()), only.ID, onlySecret), http.StatusBadRequest, oauth.InvalidRequest)
		if d := res.str("error_description"); !strings.Contains(d, "no default scope") || !strings.Contains(d, "application_id") {
			t.Errorf("only a claim-requiring scope, no claims: %q", d)
		}
		set, setSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.write", "demo.read"}, DefaultScopes: store.Strings{"demo.write", "demo.read"}})
		if res, _ := f.issue(t, f.ep, set.ID, setSecret); res.str("scope") != "demo.write" {
			t.Errorf("default scopes set with an implied one: %q", res.str("scope"))
		}
		if res, _ := f.issue(t, f.ep, set.ID, setSecret, "scope", "demo.write demo.read"); res.str("scope") != "demo.write demo.read" {
			t.Errorf("both named: %q", res.str("scope"))
		}
	})
}

// Lifetime: TokenLifetimeMinutes sets expires_in and exp; without it the
// app's token_lifetime applies.
func TestClientTokenLifetime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, func(a *app.App) { a.TokenLifetime = 0 })
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, TokenLifetimeMinutes: 5})
		res, claims := f.issue(t, f.ep, c.ID, secret)
		if res.Body["expires_in"] != float64(300) || claims.ExpiresAt.Sub(claims.IssuedAt.Time) != 5*time.Minute {
			t.Errorf("expires_in %v, exp-iat %v; want 300 s", res.Body["expires_in"], claims.ExpiresAt.Sub(claims.IssuedAt.Time))
		}
	})
}

// Daily allowance: MaxMinutesPerDay cuts a token's lifetime to what is left
// of the day's allowance, then refuses with invalid_grant saying when it
// resets and a Retry-After header reaching that moment. 2-legged tokens
// count against the client; 3-legged tokens against their user, so another
// user (and the client itself) still gets tokens.
func TestDailyAllowance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		alice := f.user(store.DefaultTenantID, "alice", false)
		bob := f.user(store.DefaultTenantID, "bob", false)
		c, secret := f.client(store.Client{
			AllowedScopes: store.Strings{"demo.read"}, AllowUserTokens: true,
			TokenLifetimeMinutes: 60, MaxMinutesPerDay: 90,
		})
		expectExhausted := func(who string, kv ...string) {
			t.Helper()
			res := f.refuse(t, f.ep, withBasic(formRequest(ccForm(kv...)), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)
			d := res.str("error_description")
			_, resets := f.app.Day(time.Now())
			if !strings.Contains(d, "resets at "+resets.Format(time.RFC3339)) || !strings.Contains(d, "90 minutes") || !strings.Contains(d, who) {
				t.Errorf("description %q: want the 90-minute %s allowance and its reset at %s", d, who, resets.Format(time.RFC3339))
			}
			ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
			left := int(time.Until(resets).Seconds())
			if err != nil || ra < left || ra > left+2 {
				t.Errorf("Retry-After = %q, want about %d seconds (until the reset)", res.Header.Get("Retry-After"), left+1)
			}
		}
		expires := func(kv ...string) float64 {
			t.Helper()
			res, claims := f.issue(t, f.ep, c.ID, secret, kv...)
			e, _ := res.Body["expires_in"].(float64)
			if got := claims.ExpiresAt.Sub(claims.IssuedAt.Time); got != time.Duration(e)*time.Second {
				t.Errorf("exp-iat %v does not match expires_in %v", got, e)
			}
			return e
		}

		// The client itself (2-legged): 60 + 30 minutes, then refused.
		if e := expires(); e != 3600 {
			t.Errorf("first token expires_in %v, want 3600", e)
		}
		if e := expires(); e != 1800 {
			t.Errorf("second token expires_in %v, want the 1800 s left", e)
		}
		expectExhausted("client")

		// Alice has her own allowance, then is refused; Bob still has his.
		if e := expires("user_id", alice.ID); e != 3600 {
			t.Errorf("alice's first token expires_in %v", e)
		}
		if e := expires("user_id", alice.ID); e != 1800 {
			t.Errorf("alice's second token expires_in %v", e)
		}
		expectExhausted("user", "user_id", alice.ID)
		if e := expires("user_id", bob.ID); e != 3600 {
			t.Errorf("bob's token expires_in %v, want 3600: allowances are per user", e)
		}

		// The usage rows record what was handed out.
		day, _ := f.app.Day(time.Now())
		var rows []store.DailyUsage
		if err := f.app.Store().DB.WithContext(context.Background()).Where("client_id = ? AND day = ?", c.ID, day).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		used := map[string]int64{}
		for _, r := range rows {
			used[r.Subject] = r.SecondsUsed
		}
		if used[c.ID] != 5400 || used[alice.ID] != 5400 || used[bob.ID] != 3600 {
			t.Errorf("seconds used %v, want client 5400, alice 5400, bob 3600", used)
		}
	})
}

// Many concurrent requests against one allowance never hand out more than
// the cap in total (the endpoint relies on the store's row lock).
func TestDailyAllowanceConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, TokenLifetimeMinutes: 7, MaxMinutesPerDay: 30})
		type answer struct {
			status int
			exp    float64
			code   string
		}
		out := make(chan answer, 12)
		for range 12 {
			go func() {
				rec := httptest.NewRecorder()
				_ = f.ep.ServeHTTP(rec, withBasic(formRequest(ccForm()), c.ID, secret), nil)
				var body struct {
					ExpiresIn float64 `json:"expires_in"`
					Error     string  `json:"error"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				out <- answer{rec.Code, body.ExpiresIn, body.Error}
			}()
		}
		var total float64
		for range 12 {
			a := <-out
			switch {
			case a.status == http.StatusOK:
				total += a.exp
			case a.code != oauth.InvalidGrant:
				t.Errorf("concurrent request: %d %s", a.status, a.code)
			}
		}
		if total != 1800 {
			t.Errorf("handed out %v token seconds, want exactly the 1800 s cap", total)
		}
	})
}

// A connect-as client whose user is a super admin gets a token only when
// its owner (who may read its secret) is that user or a super admin too:
// a client owned by someone without that power is refused
// (unauthorized_client saying why), one the command line made is not; and
// likewise for a client naming a super admin with user_id.
func TestConnectAsUserPromotedToSuperAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		svc := f.user(store.DefaultTenantID, "svc", false)
		conn, secret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, ConnectAsUserID: &svc.ID})
		f.issue(t, f.ep, conn.ID, secret)
		svc.Admin, svc.SuperAdmin = true, true
		if err := f.app.Store().UpdateUser(context.Background(), svc, tester, "user.update"); err != nil {
			t.Fatal(err)
		}
		res := f.refuse(t, f.ep, withBasic(formRequest(ccForm()), conn.ID, secret), http.StatusBadRequest, oauth.UnauthorizedClient)
		if d := res.str("error_description"); !strings.Contains(d, "owner is neither that user nor a super admin") {
			t.Errorf("description %q", d)
		}
		operators, operatorsSecret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, ConnectAsUserID: &svc.ID, OwnerID: app.CLIPrincipal})
		if _, claims := f.issue(t, f.ep, operators.ID, operatorsSecret); claims.Subject != svc.ID || !claims.ConnectAs {
			t.Errorf("a client the command line made: sub %q cas %v", claims.Subject, claims.ConnectAs)
		}
		// The same for a client that may name users (allow_user_tokens):
		// naming the super admin needs its owner's power, naming anyone
		// else does not.
		namer, namerSecret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, AllowUserTokens: true})
		plain := f.user(store.DefaultTenantID, "plain", false)
		res = f.refuse(t, f.ep, withBasic(formRequest(ccForm("user_id", svc.ID)), namer.ID, namerSecret), http.StatusBadRequest, oauth.UnauthorizedClient)
		if d := res.str("error_description"); !strings.Contains(d, "the user named is a super admin") {
			t.Errorf("naming the super admin: %q", d)
		}
		if _, claims := f.issue(t, f.ep, namer.ID, namerSecret, "user_id", plain.ID); claims.Subject != plain.ID || !claims.NamedUser || claims.ConnectAs {
			t.Errorf("naming a plain user: sub %q nu %v cas %v, want the user, marked named (nu)", claims.Subject, claims.NamedUser, claims.ConnectAs)
		}
		opNamer, opNamerSecret := f.client(store.Client{AllowedScopes: store.Strings{"user.only"}, AllowUserTokens: true, OwnerID: app.CLIPrincipal})
		if _, claims := f.issue(t, f.ep, opNamer.ID, opNamerSecret, "user_id", svc.ID); claims.Subject != svc.ID {
			t.Errorf("a namer the command line made, naming the super admin: sub %q", claims.Subject)
		}
	})
}

// A redirect claim spelled otherwise (Redirect-Url, redirect.uri) is held
// to the client's registered redirect URIs as redirect_url is: it reaches
// the upstream in the same X-Scopegate-Claim-Redirect-Url header.
func TestRedirectClaimInAnySpelling(t *testing.T) {
	for _, name := range []string{"Redirect-Url", "redirect.uri", "REDIRECT_URI"} {
		f := newFixture(t, store.SQLite, func(a *app.App) {
			a.Scopes = append(append([]scope.Scope{}, a.Scopes...), scope.Scope{Name: "session", RequiredClaims: []string{name}})
		})
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"session"}, RedirectURIs: store.Strings{"https://app.example/cb"}})
		res := f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", "session", name, "https://evil.example/phish")), c.ID, secret),
			http.StatusBadRequest, oauth.InvalidRequest)
		if !strings.Contains(res.str("error_description"), "registered redirect") {
			t.Errorf("%s: %q does not name the registered redirect URLs", name, res.str("error_description"))
		}
		if _, claims := f.issue(t, f.ep, c.ID, secret, "scope", "session", name, "https://app.example/cb"); claims.Ext[name] != "https://app.example/cb" {
			t.Errorf("%s: ext = %v", name, claims.Ext)
		}
	}
}
