package issuer

import (
	"context"
	"errors"
	"golang.org/x/text/unicode/norm"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// OOB is the redirect URI of installed applications that cannot receive a
// redirect: the result is shown on a page for the user to copy.
const OOB = "urn:ietf:wg:oauth:2.0:oob"

// NotConnectAsUser is what a user sees who signs in to authorize a client
// that connects as someone else.
const NotConnectAsUser = "This application acts as another user; only that user can authorize it."

// UnsupportedResponseType is RFC 6749 §4.1.2.1's error for an unknown
// response_type.
const UnsupportedResponseType = "unsupported_response_type"

// authRequest is a validated authorization request.
type authRequest struct {
	// params are the request's parameters the pages carry in hidden fields
	// (see carried), re-validated on every post.
	params url.Values
	client *store.Client
	// redirect is the effective redirect URI; redirectGiven is the one the
	// request named ("" when it relied on the single registered one).
	redirect      string
	redirectGiven string
	implicit      bool
	// unregisteredOOB: the oob redirect of a client that registered no
	// redirect URI, under oob every_client.
	unregisteredOOB bool
	state           string
	scopes          []string
	ext             map[string]string
	challenge       string
}

func (ar *authRequest) oob() bool { return ar.redirect == OOB }

// formActions is what CSP form-action must allow so the redirect that ends
// a post reaches the client.
func (ar *authRequest) formActions() []string {
	u, err := url.Parse(ar.redirect)
	if err != nil {
		return nil
	}
	// Only a well-formed origin goes into the CSP header: a redirect URI
	// registered before hosts were checked may hold ';' or '*'.
	if origin := web.Origin(u); origin != "" {
		return []string{origin}
	}
	return nil
}

// fatal is an error shown on a page, never sent to the redirect URI: the
// client or the redirect URI cannot be trusted (RFC 6749 §4.1.2.1).
type fatal struct {
	status  int
	message string
}

// parse validates an authorization request. A fatal answer means the
// browser must stay here; an oauth error goes back to the redirect URI.
func (a *Authorize) parse(ctx context.Context, v url.Values) (*authRequest, *fatal, *oauth.Error, error) {
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(v[name]) > 1 {
			return nil, &fatal{http.StatusBadRequest, "The request repeats the " + name + " parameter."}, nil, nil
		}
	}
	id := v.Get("client_id")
	if id == "" {
		return nil, &fatal{http.StatusBadRequest, "The request does not name an application (client_id is missing)."}, nil, nil
	}
	c, err := a.app.Runtime().Client(ctx, id)
	if err == nil && c == nil && len(id) > 2 && id[0] == '[' && id[len(id)-1] == ']' {
		// Imagen's example writes client_id=[Your_API key_here]: a key
		// pasted inside the brackets is that key (no client id holds one).
		c, err = a.app.Runtime().Client(ctx, id[1:len(id)-1])
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if c == nil {
		return nil, &fatal{http.StatusBadRequest, "There is no application with this client_id."}, nil, nil
	}
	if c.Disabled {
		return nil, &fatal{http.StatusBadRequest, "This application is disabled."}, nil, nil
	}
	// Surrounding blanks are not part of the value: Imagen's documented URL
	// reads "response_type=token &client_id=…", which a browser sends as
	// "token%20".
	rt := strings.TrimSpace(v.Get("response_type"))
	ar := &authRequest{params: carried(v, nil), client: c, redirectGiven: v.Get("redirect_uri"), state: v.Get("state"),
		implicit: rt == "token"}
	// oob every_client opens the oob redirect to a client that registered
	// no redirect URI at all (an Imagen key), never to one that registered
	// others: a web app's users, whose approval is remembered, could
	// otherwise be shown its token or code by a link and talked into
	// pasting it. Such a request always asks for approval (no remembered
	// consent skips it) and takes only response_type=token (no code, so no
	// refresh token).
	oobForAll := a.OOB == OOBEveryClient && len(c.RedirectURIs) == 0
	switch {
	case ar.redirectGiven != "":
		if oobForAll && ar.redirectGiven == OOB {
			ar.unregisteredOOB = true
		} else if !c.RedirectURIs.Contains(ar.redirectGiven) {
			return nil, &fatal{http.StatusBadRequest, "The application asked to send you back to an address (redirect_uri) that is not registered for it, so you are not sent there. " +
				"Its developer must register that exact URL for the application, or change the application to use one that is registered."}, nil, nil
		}
		ar.redirect = ar.redirectGiven
	case len(c.RedirectURIs) == 1:
		ar.redirect = c.RedirectURIs[0]
	case oobForAll:
		ar.redirect, ar.unregisteredOOB = OOB, true
	case len(c.RedirectURIs) == 0:
		return nil, &fatal{http.StatusBadRequest, "This application has no registered redirect URI."}, nil, nil
	default:
		return nil, &fatal{http.StatusBadRequest, "The request must name one of the application's registered redirect URIs (redirect_uri)."}, nil, nil
	}
	if ar.unregisteredOOB && rt != "token" {
		return nil, &fatal{http.StatusBadRequest, "This application has no registered redirect URI: it may use the out-of-band redirect " +
			"(urn:ietf:wg:oauth:2.0:oob) with response_type=token only."}, nil, nil
	}
	// From here on errors go back to the client. A parameter the flow reads
	// must come once (RFC 6749 §3.1); any other is ignored, repeated or not
	// (RFC 8707 sends resource more than once), and never carried.
	for name, vals := range v {
		if len(vals) > 1 && (slices.Contains(authParams, name) || a.app.Catalogue().IsClaim(name)) {
			return ar, nil, oauth.ErrInvalidRequest("parameter %s is repeated", safeName(name)), nil
		}
	}
	switch rt {
	case "token":
		if oe := mayUse(c, store.GrantImplicit); oe != nil {
			return ar, nil, oe, nil
		}
	case "code":
		if oe := mayUse(c, store.GrantAuthorizationCode); oe != nil {
			return ar, nil, oe, nil
		}
		ch, method := v.Get("code_challenge"), v.Get("code_challenge_method")
		switch {
		case ch == "" && c.Public:
			// A public client's code is protected by PKCE alone (no secret).
			return ar, nil, oauth.ErrInvalidRequest("a public client must send a PKCE code_challenge with code_challenge_method=S256"), nil
		case ch == "" && method != "":
			return ar, nil, oauth.ErrInvalidRequest("code_challenge_method without code_challenge"), nil
		case ch != "" && method != "S256":
			return ar, nil, oauth.ErrInvalidRequest("code_challenge_method must be S256"), nil
		case ch != "" && !validChallenge(ch):
			return ar, nil, oauth.ErrInvalidRequest("code_challenge must be the 43-character base64url SHA-256 of the verifier"), nil
		}
		ar.challenge = ch
	case "":
		return ar, nil, oauth.ErrInvalidRequest("the response_type parameter is missing"), nil
	default:
		return ar, nil, oauth.New(UnsupportedResponseType, http.StatusBadRequest, "response_type %q is not supported (use code or token)", safeName(rt)), nil
	}
	// The implicit grant mints here, so a request naming no scope gets
	// only the default scopes whose claims it carries; a code's claims
	// come with its redemption.
	var param func(string) string
	if ar.implicit {
		param = v.Get
	}
	scopes, oe := a.minter.grantScopes(c, unbracket(a.app.Catalogue(), v.Get("scope")), 3, param)
	if oe != nil {
		return ar, nil, oe, nil
	}
	// A token shown on a page is one a user can be talked out of; the
	// unregistered oob redirect is open to every key, the bootstrap client
	// included, so it never shows an admin token (the console is where a
	// user acts as an admin).
	if ar.unregisteredOOB && a.app.Catalogue().GivesAdmin(scopes) {
		return ar, nil, oauth.ErrInvalidScope("the out-of-band redirect of a client that registered none never shows a token with an admin scope (%s, %s); use the admin console", scope.Admin, scope.TenantAdmin), nil
	}
	ar.scopes = scopes
	if ar.implicit {
		// The token is minted here, so the claims its scopes require come
		// with the request and are carried with it.
		names := a.claimNames(scopes)
		ar.params = carried(v, names)
		params := map[string]string{}
		for k := range ar.params {
			params[k] = ar.params.Get(k)
		}
		if ar.ext, oe = a.minter.requiredClaims(c, scopes, &Request{Params: params}); oe != nil {
			return ar, nil, oe, nil
		}
	}
	return ar, nil, nil, nil
}

// claimNames lists the claims the scopes require, as the catalogue says.
func (a *Authorize) claimNames(scopes []string) []string {
	var names []string
	for _, s := range scopes {
		if def, ok := a.app.Catalogue().Get(s); ok {
			names = append(names, def.RequiredClaims...)
		}
	}
	return names
}

// validChallenge accepts what S256 produces: 43 base64url characters.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// start answers GET: the sign-in page, the consent page, or the result.
func (a *Authorize) start(w http.ResponseWriter, r *http.Request) error {
	// URL.Query drops a malformed pair (a stray %, a ';') and goes on:
	// scope=x%zz became no scope (the client's defaults) and a state
	// vanished. As the form of a POST is, such a query is refused; no
	// redirect, since its redirect_uri cannot be trusted either.
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return a.errorPage(w, http.StatusBadRequest, oauth.InvalidRequest,
			"the query string is malformed (a stray % or a ';'): percent-encode its values", "")
	}
	ar, ok, err := a.validate(w, r, v)
	if !ok {
		return err
	}
	sess, u, err := a.signedIn(r, ar.client)
	if err != nil {
		return a.serverError(w, "loading the signed-in user", err)
	}
	if sess == nil {
		return a.loginPage(w, r, ar, http.StatusOK, "", "", "")
	}
	return a.proceed(w, r, ar, sess, u)
}

// post answers a form: sign in, approve, deny or sign out.
func (a *Authorize) post(w http.ResponseWriter, r *http.Request) error {
	if name := repeatedFormField(r.PostForm); name != "" {
		return a.errorPage(w, http.StatusBadRequest, oauth.InvalidRequest, "The form repeats the "+name+" field.", "")
	}
	ar, ok, err := a.validate(w, r, withoutFormFields(r.PostForm))
	if !ok {
		return err
	}
	action := r.PostForm.Get("action")
	if action == "login" {
		return a.login(w, r, ar)
	}
	if action != "approve" && action != "deny" && action != "logout" {
		return a.errorPage(w, http.StatusBadRequest, oauth.InvalidRequest, "Unknown form action.", "")
	}
	sess, u, err := a.signedIn(r, ar.client)
	if err != nil {
		return a.serverError(w, "loading the signed-in user", err)
	}
	if sess == nil {
		return a.loginPage(w, r, ar, http.StatusOK, "", "", "Your sign-in has expired. Please sign in again.")
	}
	if err := web.CheckCSRF(r, sess); err != nil {
		return a.errorPage(w, http.StatusForbidden, "", err.Error(), "")
	}
	switch action {
	case "deny":
		return a.fail(w, r, ar, oauth.New(oauth.AccessDenied, http.StatusBadRequest, "the user denied the request"))
	case "logout":
		if err := a.sessionsFor(r).End(w, r); err != nil {
			return a.serverError(w, "ending a session", err)
		}
		return a.loginPage(w, r, ar, http.StatusOK, "", "", "You are signed out.")
	}
	if connectsAsAnother(ar.client, u) {
		return a.notConnectAsUser(w, r, ar)
	}
	if err := a.app.Store().SaveConsent(r.Context(), u.ID, ar.client.ID, ar.scopes); err != nil {
		return a.serverError(w, "saving consent", err)
	}
	return a.issue(w, r, ar, sess, u)
}

// validate parses the request and answers its failure; ok is true when the
// flow continues.
func (a *Authorize) validate(w http.ResponseWriter, r *http.Request, v url.Values) (*authRequest, bool, error) {
	ar, fat, oe, err := a.parse(r.Context(), v)
	switch {
	case err != nil:
		return nil, false, a.serverError(w, "loading the client", err)
	case fat != nil:
		return nil, false, a.errorPage(w, fat.status, oauth.InvalidRequest, fat.message, "")
	case oe != nil:
		return nil, false, a.fail(w, r, ar, oe)
	}
	return ar, true, nil
}

// signedIn returns the session and its user when the browser is signed in
// as an active user of the client's tenant. A sign-in older than the user's
// last change (a password reset by an admin, say) no longer counts.
func (a *Authorize) signedIn(r *http.Request, c *store.Client) (*web.Session, *store.User, error) {
	sess, err := a.sessionsFor(r).Read(r)
	if err != nil || sess == nil || sess.TenantID != c.TenantID {
		return nil, nil, err
	}
	u, err := a.app.Runtime().User(r.Context(), sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	if !sessionStands(sess, u, c) {
		if sess.UserVersion.IsZero() {
			return nil, nil, nil // sealed before sessions had a version
		}
		// This node's cache may lag a change the sign-in already read (made
		// on another node within a poll, dated by that node's clock): the
		// database decides.
		fresh, err := a.app.Store().GetUser(r.Context(), sess.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if !sessionStands(sess, fresh, c) {
			return nil, nil, nil
		}
		u = fresh
	}
	return sess, u, nil
}

// sessionStands reports whether sess still signs in u, as read, for client
// c: an enabled user of c's tenant, unchanged since the sign-in.
func sessionStands(sess *web.Session, u *store.User, c *store.Client) bool {
	return u != nil && !u.Disabled && u.TenantID == c.TenantID && sess.For(u.UpdatedAt)
}

// login checks a username and password. Attempts are counted per tenant
// and username and per client IP, before the password is checked (so a
// burst of parallel guesses gets no more checks than a sequence); past a
// few, the user must wait.
func (a *Authorize) login(w http.ResponseWriter, r *http.Request, ar *authRequest) error {
	if err := a.signInCSRFFor(r).Check(r); err != nil {
		return a.errorPage(w, http.StatusForbidden, "", err.Error(), "")
	}
	// NFC, as usernames are stored: é typed as e + U+0301 signs in too.
	username := norm.NFC.String(strings.TrimSpace(r.PostForm.Get("username")))
	password := r.PostForm.Get("password")
	// Counted by the name exactly as it must match: a spelling that
	// differs in case names no one, so it needs no share of this count.
	userKey := ar.client.TenantID + "\x00" + username
	ipKey := clientIP(r)
	attempt, wait := a.app.SignInThrottle().Acquire(userKey, ipKey)
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		web.LogSignInThrottled(a.throttled, r, "authorize", ar.client.ID, func() string { return ar.client.TenantID })
		return a.loginPage(w, r, ar, http.StatusTooManyRequests, username,
			"Too many attempts. Wait "+strconv.Itoa(secs)+" seconds and try again.", "")
	}
	var u *store.User
	if username != "" {
		// Not cancelled with the request (see the console's sign-in); the
		// store bounds the query's time.
		found, err := a.app.Store().FindUser(context.WithoutCancel(r.Context()), ar.client.TenantID, username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			attempt.Abandon()
			return a.serverError(w, "loading user", err)
		}
		if err == nil && found.Username == username {
			u = found
		}
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	// CheckPassword spends the same time whether or not the user exists.
	// A failure keeps the attempt Acquire counted.
	ok, err := attempt.CheckPassword(r.Context(), hash, password)
	if err != nil {
		status, msg := web.NotChecked(w.Header(), err)
		if status == web.StatusClientGone {
			w.WriteHeader(status)
			return nil
		}
		return a.loginPage(w, r, ar, status, username, msg, "")
	}
	if !ok || u.Disabled {
		web.LogSignInRefused(a.logger, r, web.SignInRefusal{Page: "authorize", ClientID: ar.client.ID, Tenant: ar.client.TenantID, User: u, PasswordOK: ok})
		return a.loginPage(w, r, ar, http.StatusUnauthorized, username, "Wrong username or password.", "")
	}
	attempt.Succeeded()
	sess, err := a.sessionsFor(r).Start(w, r, u.ID, u.TenantID, u.UpdatedAt)
	if err != nil {
		return a.serverError(w, "starting a session", err)
	}
	return a.proceed(w, r, ar, sess, u)
}

// proceed skips the consent page when the user already approved every
// requested scope for this client.
func (a *Authorize) proceed(w http.ResponseWriter, r *http.Request, ar *authRequest, sess *web.Session, u *store.User) error {
	if connectsAsAnother(ar.client, u) {
		return a.notConnectAsUser(w, r, ar)
	}
	cons, err := a.app.Store().GetConsent(r.Context(), u.ID, ar.client.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return a.serverError(w, "loading consent", err)
	}
	if cons != nil && coversAll(cons.Scopes, ar.scopes) && !ar.unregisteredOOB && !(ar.oob() && !typedByUser(r)) &&
		!(ar.implicit && sentByAnotherSite(r, ar.redirect)) {
		return a.issue(w, r, ar, sess, u)
	}
	type scopeLine struct{ Name, Description string }
	var lines []scopeLine
	for _, s := range ar.scopes {
		line := scopeLine{Name: s}
		if def, ok := a.app.Catalogue().Get(s); ok {
			line.Description = def.Description
		}
		lines = append(lines, line)
	}
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	return web.Render(w, http.StatusOK, a.pages["consent"], map[string]any{
		"ClientName": ar.client.Name, "Action": formPath(r), "Params": hidden(ar.params),
		"CSRF": sess.CSRF, "Scopes": lines, "UserName": name,
	}, ar.formActions()...)
}

// typedByUser reports whether the browser says the user opened this URL
// themselves (Sec-Fetch-Site none: the address bar, a bookmark), not a page.
// An out-of-band client's token is shown on this site's page, next to words
// of the link's choosing (state), so no page may make this site mint one
// without a click: not another site's link, and not this site's own
// redirects either, which a client's registered redirect URI can chain
// (another app's consent, answered with Allow or Deny, redirecting to this
// client's out-of-band URL arrives same-origin). The sign-in form posts from
// this site, hiding where the link came from, so after a sign-in (a POST
// reaching proceed) the consent page shows too. A browser that sends no
// Fetch Metadata (plain http:// to a host other than localhost, older
// browsers) gets the consent page every time. A redirect client's token
// goes to its registered redirect URI, where such a link leads anyway.
func typedByUser(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Site") == "none"
}

// sentByAnotherSite reports whether the browser says a page of another site
// sent this GET (Sec-Fetch-Site cross-site or same-site) and its Referer is
// not on the origin of redirect, where the token goes. An implicit token is
// minted at once for an approval on record, and each mint counts against
// the user's daily allowance for the client and its bound of live implicit
// tokens: any site's page could otherwise spend them in a loop of
// navigations, none of them seen by the user (browser red team). The
// client's own pages (the default Referrer-Policy sends their origin),
// the address bar (none), this site (same-origin), the sign-in post and
// browsers that send no Fetch Metadata go on as before; the others get the
// consent page, one click from the token. Codes spend nothing until the
// client redeems them.
func sentByAnotherSite(r *http.Request, redirect string) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "cross-site" && site != "same-site" {
		return false
	}
	from, err := url.Parse(r.Header.Get("Referer"))
	if err != nil {
		return true
	}
	to, err := url.Parse(redirect)
	if err != nil {
		return true
	}
	origin := web.Origin(from)
	return origin == "" || !strings.EqualFold(withoutDefaultPort(origin), withoutDefaultPort(web.Origin(to)))
}

// withoutDefaultPort drops :443 from an https origin and :80 from an http
// one, as browsers do in the Referer they send (a redirect URI may be
// registered with them).
func withoutDefaultPort(origin string) string {
	if o, ok := strings.CutSuffix(origin, ":443"); ok && strings.HasPrefix(origin, "https://") {
		return o
	}
	if o, ok := strings.CutSuffix(origin, ":80"); ok && strings.HasPrefix(origin, "http://") {
		return o
	}
	return origin
}

// notConnectAsUser answers a signed-in user who is not the one the client
// connects as: the client may act for that user only, so this sign-in gets
// it nothing and the client learns nothing. The sign-in form below the
// notice lets that user take over in the same browser.
func (a *Authorize) notConnectAsUser(w http.ResponseWriter, r *http.Request, ar *authRequest) error {
	return a.loginPage(w, r, ar, http.StatusForbidden, "", "", NotConnectAsUser)
}

func coversAll(approved store.Strings, requested []string) bool {
	for _, s := range requested {
		if !approved.Contains(s) {
			return false
		}
	}
	return true
}

// loginPage shows the sign-in form; fieldErr is shown next to the password.
func (a *Authorize) loginPage(w http.ResponseWriter, r *http.Request, ar *authRequest, status int, username, fieldErr, notice string) error {
	csrf, err := a.signInCSRFFor(r).Token(w, r)
	if err != nil {
		return a.serverError(w, "making a sign-in CSRF token", err)
	}
	return web.Render(w, status, a.pages["login"], map[string]any{
		"ClientName": ar.client.Name, "Action": formPath(r), "Params": hidden(ar.params),
		"CSRF": csrf, "Username": username, "Error": fieldErr, "Notice": notice,
	}, ar.formActions()...)
}

// formPath is where the pages post back to: the path the browser asked
// for, even when handle_path stripped a prefix before this handler, as
// web.LocalPath cleans it. The raw path is never echoed: Caddy matched the
// cleaned one, and "//evil.example/..%2Foauth/authorize" in a form action
// would send the user's password to evil.example.
func formPath(r *http.Request) string {
	p := r.URL.Path
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		p = or.URL.Path
	}
	return web.LocalPath(p)
}

// issue ends an approved request: a token (implicit) or a code, delivered to
// the redirect URI or shown on a page for out-of-band clients.
func (a *Authorize) issue(w http.ResponseWriter, r *http.Request, ar *authRequest, sess *web.Session, u *store.User) error {
	c := ar.client
	// What is saved below is saved only if this still stands in the
	// database (store.ErrGrantEnded otherwise): the checks so far read
	// this node's caches.
	grant := store.Grant{UserID: u.ID, ClientID: c.ID, Scopes: ar.scopes, UserVersion: sess.UserVersion}
	if ce := a.logger.Check(zap.DebugLevel, "authorized"); ce != nil {
		ce.Write(zap.String("client_id", c.ID), zap.String("user_id", u.ID),
			zap.Bool("implicit", ar.implicit), zap.Strings("scopes", ar.scopes))
	}
	if ar.implicit {
		sub, oe := signInSubject(c, u)
		if oe != nil {
			return a.notConnectAsUser(w, r, ar)
		}
		claims, lifetime, charge, oe := a.minter.claims(r.Context(), sub, ar.scopes, ar.ext)
		if oe != nil && oe.Code == oauth.InvalidClient {
			// The client was deleted meanwhile; invalid_client is not an
			// authorization endpoint's code (RFC 6749 §4.2.2.1).
			oe = oauth.ErrUnauthorizedClient("%s", oe.Description)
		}
		if oe != nil {
			return a.fail(w, r, ar, oe)
		}
		// Recorded before it is signed, so that a password reset or a
		// consent revoked from now on ends it (store.ImplicitToken).
		until := a.app.RevocationUntil(claims.ExpiresAt.Time)
		if err := a.app.Store().RecordImplicitToken(r.Context(), claims.ID, grant, claims.IssuedAt.Time, until); err != nil {
			// Never handed out: its allowance goes back.
			a.minter.refund(r.Context(), charge)
			if errors.Is(err, store.ErrGrantEnded) {
				return a.grantEnded(w, r, ar)
			}
			if errors.Is(err, store.ErrTooManyGrants) {
				return a.fail(w, r, ar, tooManyGrants())
			}
			return a.serverError(w, "recording an implicit-grant token", err)
		}
		issued, oe := a.minter.sign(claims, lifetime)
		if oe != nil {
			a.minter.refund(r.Context(), charge)
			return a.fail(w, r, ar, oe)
		}
		if ar.oob() {
			exp := issued.Claims.ExpiresAt.Time.UTC().Format(time.RFC3339)
			return web.Render(w, http.StatusOK, a.pages["done"], map[string]any{
				"ClientName": c.Name, "Kind": "access token", "Label": "Access token", "Value": issued.AccessToken,
				"ExpiresIn": issued.ExpiresIn, "ExpiresAt": exp, "Scope": issued.Scope, "State": ar.state,
			})
		}
		v := url.Values{"access_token": {issued.AccessToken}, "token_type": {"Bearer"},
			"expires_in": {strconv.FormatInt(issued.ExpiresIn, 10)}, "scope": {issued.Scope}, "iss": {a.app.Issuer}}
		if ar.state != "" {
			v.Set("state", ar.state)
		}
		return redirect(w, ar.redirect+"#"+v.Encode())
	}
	code := secret.NewToken(32)
	if err := a.app.Store().SaveGrantedAuthCode(r.Context(), &store.AuthCode{
		Digest: store.Digest(code), ClientID: c.ID, UserID: u.ID, TenantID: c.TenantID,
		RedirectURI: ar.redirectGiven, Scopes: store.Strings(ar.scopes), CodeChallenge: ar.challenge,
		ExpiresAt: time.Now().Add(time.Duration(a.CodeLifetime)),
	}, grant); errors.Is(err, store.ErrGrantEnded) {
		return a.grantEnded(w, r, ar)
	} else if errors.Is(err, store.ErrTooManyGrants) {
		return a.fail(w, r, ar, tooManyGrants())
	} else if err != nil {
		return a.serverError(w, "saving an authorization code", err)
	}
	if ar.oob() {
		return web.Render(w, http.StatusOK, a.pages["done"], map[string]any{
			"ClientName": c.Name, "Kind": "authorization code", "Label": "Authorization code", "Value": code,
			"Scope": scope.Join(ar.scopes), "State": ar.state,
		})
	}
	v := url.Values{"code": {code}, "iss": {a.app.Issuer}}
	if ar.state != "" {
		v.Set("state", ar.state)
	}
	return redirect(w, withQuery(ar.redirect, v))
}

// grantEnded answers a request whose sign-in or consent ended while it was
// being answered (a password reset, a disable, a revoked consent): the
// sign-in page, as when the sign-in is found ended at the start.
func (a *Authorize) grantEnded(w http.ResponseWriter, r *http.Request, ar *authRequest) error {
	return a.loginPage(w, r, ar, http.StatusOK, "", "", "Your sign-in has expired. Please sign in again.")
}

// tooManyGrants refuses a grant past store.GrantsKeptPerUser: the user's
// browser asked this client's tokens or codes in a loop.
func tooManyGrants() *oauth.Error {
	return oauth.New(oauth.TemporarilyUnavail, http.StatusServiceUnavailable,
		"you already hold %d live grants of this application: wait until some expire, or ask an administrator to end them", store.GrantsKeptPerUser)
}

// fail sends an error back to the client (RFC 6749 §4.1.2.1 and §4.2.2.1):
// in the fragment for the implicit grant, in the query for a code; an
// out-of-band client's user sees it on a page. Every answer redirected to a
// client names this issuer (iss, RFC 9207), so a client talking to several
// servers can tell which one answered (mix-up attacks).
func (a *Authorize) fail(w http.ResponseWriter, r *http.Request, ar *authRequest, oe *oauth.Error) error {
	if oe.Code == oauth.ServerError {
		a.logger.Error("authorization failed on the server")
	}
	if ar.oob() {
		msg := oe.Description
		if oe.Code == oauth.AccessDenied {
			msg = "You denied access: " + ar.client.Name + " gets no access."
		}
		status := http.StatusBadRequest
		switch oe.Code {
		case oauth.AccessDenied:
			status = http.StatusOK
		case oauth.TemporarilyUnavail:
			status = http.StatusServiceUnavailable
		}
		return a.errorPage(w, status, oe.Code, msg, ar.state)
	}
	v := url.Values{"error": {oe.Code}, "iss": {a.app.Issuer}}
	if oe.Description != "" {
		v.Set("error_description", oe.Description)
	}
	if ar.state != "" {
		v.Set("state", ar.state)
	}
	if ar.implicit {
		return redirect(w, ar.redirect+"#"+v.Encode())
	}
	return redirect(w, withQuery(ar.redirect, v))
}

// withQuery adds parameters to a URI that may already have a query.
func withQuery(uri string, v url.Values) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + v.Encode()
	}
	return uri + "?" + v.Encode()
}

func redirect(w http.ResponseWriter, to string) error {
	h := w.Header()
	h.Set("Location", to)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
	return nil
}
