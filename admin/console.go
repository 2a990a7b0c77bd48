package admin

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// ConsoleCookie names the admin console's session cookie.
const ConsoleCookie = "scopegate_console"

// consoleVia is what the audit log says console actions came through
// (client ids start with sg_, so it cannot be mistaken for one).
const consoleVia = "console"

// ConsoleCSRFCookie holds the sign-in form's CSRF token (web.SignInCSRF).
const ConsoleCSRFCookie = "scopegate_console_csrf"

// consolePageSize is how many rows a console listing shows per page.
const consolePageSize = 50

//go:embed templates/*.html
var consoleTemplates embed.FS

// console is the admin console: browser pages over the admin API, for
// admin users who sign in with a password. It holds no logic of its own
// about clients, users or integrations: every action runs the JSON API's
// route in-process, as the signed-in user, and renders its answer.
type console struct {
	h        *Handler
	pages    map[string]*template.Template
	sessions web.Sessions
	signIn   web.SignInCSRF
	// Sign-in attempts, per tenant and username and per client IP.
	throttle *web.SignInThrottle
}

// newConsole parses the embedded pages; they are part of the binary, so a
// parse error is a programming error.
func newConsole(h *Handler) *console {
	pages, err := web.Pages(consoleTemplates, "templates/*.html", consoleFuncs)
	if err != nil {
		panic(fmt.Sprintf("admin console pages: %v", err))
	}
	return &console{
		h: h, pages: pages,
		// The sealer and the store are set per request (sessions, signInCSRF):
		// the app opens its database when it starts, after provisioning.
		sessions: web.Sessions{Name: ConsoleCookie, Path: "/", TTL: 8 * time.Hour},
		signIn:   web.SignInCSRF{Name: ConsoleCSRFCookie, TTL: 12 * time.Hour},
		throttle: web.NewSignInThrottle(),
	}
}

var consoleFuncs = template.FuncMap{
	"fieldError": func(errs map[string]string, field string) string { return errs[field] },
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"join": strings.Join,
	"nav":  navHTML,
}

// navItems are the console's sections.
var navItems = []struct{ key, path, label string }{
	{"apps", "/console/apps", "Custom apps"},
	{"integrations", "/console/integrations", "Integrations"},
	{"users", "/console/users", "Users"},
	{"audit", "/console/audit", "Audit log"},
}

// navHTML is the header navigation every signed-in page shows, with the
// sign-out form.
func navHTML(v view) template.HTML {
	if v.Me == nil {
		return ""
	}
	var b strings.Builder
	// On a phone the shared CSS stacks table cells; label each one.
	b.WriteString(`<style>@media (max-width:40rem){td[data-label]::before{content:attr(data-label) ": ";font-weight:600}}</style>`)
	b.WriteString(`<nav aria-label="Console"><ul class="nav" style="display:flex;flex-wrap:wrap;gap:.75rem;list-style:none;margin:0;padding:0">`)
	for _, it := range navItems {
		cur := ""
		if it.key == v.Nav {
			cur = ` aria-current="page"`
		}
		fmt.Fprintf(&b, `<li><a href="%s"%s>%s</a></li>`, template.HTMLEscapeString(v.Base+it.path), cur, it.label)
	}
	fmt.Fprintf(&b, `</ul></nav><form method="post" action="%s" class="signout" style="display:flex;gap:.5rem;align-items:center"><input type="hidden" name="csrf" value="%s">`+
		`<span class="who">%s</span> <button type="submit" class="secondary">Sign out</button></form>`,
		template.HTMLEscapeString(v.Base+"/console/signout"), template.HTMLEscapeString(v.CSRF), template.HTMLEscapeString(v.Me.Username))
	return template.HTML(b.String())
}

// isConsole reports whether a request is for the console: a browser
// (no Authorization header at all: an empty or repeated one is the API's to
// refuse) asking for the root or a page under /console/.
func isConsole(r *http.Request) bool {
	return len(r.Header.Values("Authorization")) == 0 &&
		(r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/console/"))
}

// view is what every console page gets.
type view struct {
	Base   string // the path the admin handler is mounted at ("" or e.g. "/admin")
	CSRF   string
	Me     *store.User
	Super  bool
	Nav    string
	Title  string
	Flash  string
	Errors map[string]string // field → message
	Error  string            // a message for the whole form or page
	D      any               // the page's own data
}

// request is one console request being served.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	co   *console
	sess *web.Session
	me   *store.User
	c    *caller
	base string
}

// serve routes a console request.
func (co *console) serve(w http.ResponseWriter, r *http.Request) {
	rq := &request{w: w, r: r, co: co, base: mountBase(r)}
	p := r.URL.Path
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			rq.errorPage(http.StatusBadRequest, "The form could not be read.")
			return
		}
	}
	if p == "/" || p == "/console/signin" {
		if r.Method == http.MethodPost && p == "/console/signin" {
			rq.signIn()
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rq.errorPage(http.StatusMethodNotAllowed, "Use the sign-in form.")
			return
		}
		if rq.load() {
			rq.redirect("/console/apps")
			return
		}
		rq.signInPage(http.StatusOK, "", "", "")
		return
	}
	if !rq.load() {
		if r.Method == http.MethodPost {
			rq.errorPage(http.StatusForbidden, web.ErrCSRF.Error())
			return
		}
		rq.redirect("/")
		return
	}
	if r.Method == http.MethodPost {
		if err := web.CheckCSRF(r, rq.sess); err != nil {
			rq.errorPage(http.StatusForbidden, err.Error())
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rq.errorPage(http.StatusMethodNotAllowed, "This page does not take that method.")
		return
	}
	co.route(rq, strings.Split(strings.Trim(strings.TrimPrefix(p, "/console/"), "/"), "/"))
}

// route dispatches on the path below /console/.
func (co *console) route(rq *request, parts []string) {
	post := rq.r.Method == http.MethodPost
	n := len(parts)
	switch {
	case n == 1 && parts[0] == "signout" && post:
		if err := rq.sessions().End(rq.w, rq.r); err != nil {
			rq.serverError("ending a session", err)
			return
		}
		rq.redirect("/")
	case n == 1 && parts[0] == "apps" && !post:
		rq.appsPage()
	case n == 2 && parts[0] == "apps" && parts[1] == "new":
		if post {
			rq.createApp()
		} else {
			rq.newAppPage(http.StatusOK, newAppForm{AuthMethod: store.AuthAPIKey, ImplicitGrant: true}, nil, "")
		}
	case n == 2 && parts[0] == "apps" && !post:
		rq.appPage(parts[1], "")
	case n == 3 && parts[0] == "apps" && parts[2] == "secret" && post:
		rq.revealSecret(parts[1])
	case n == 3 && parts[0] == "apps" && appActions[parts[2]] != "":
		if post {
			rq.appAction(parts[1], parts[2])
		} else {
			rq.confirmAppAction(parts[1], parts[2])
		}
	case n == 1 && parts[0] == "integrations" && !post:
		rq.integrationsPage()
	case n == 2 && parts[0] == "integrations" && !post:
		rq.integrationPage(parts[1], http.StatusOK, nil, "")
	case n == 3 && parts[0] == "integrations" && parts[2] == "allow" && post:
		rq.allowIntegration(parts[1])
	case n == 3 && parts[0] == "integrations" && parts[2] == "decline" && post:
		rq.declineIntegration(parts[1])
	case n == 1 && parts[0] == "users" && !post:
		rq.usersPage()
	case n == 2 && parts[0] == "users" && parts[1] == "new":
		if post {
			rq.createUser()
		} else {
			rq.render(http.StatusOK, "user_new", "users", "Add user", userForm{}, nil, "")
		}
	case n == 3 && parts[0] == "users" && (parts[2] == "disable" || parts[2] == "enable") && post:
		rq.setUserDisabled(parts[1], parts[2] == "disable")
	case n == 3 && parts[0] == "users" && parts[2] == "password":
		if post {
			rq.resetPassword(parts[1])
		} else {
			rq.passwordPage(parts[1], http.StatusOK, nil)
		}
	case n == 1 && parts[0] == "audit" && !post:
		rq.auditPage()
	default:
		rq.errorPage(http.StatusNotFound, "There is no such page.")
	}
}

// mountBase is the path prefix handle_path stripped before the admin
// handler saw the request, so links and cookies carry it. Both paths are
// cleaned first (web.LocalPath), as Caddy's matchers clean them: the raw
// original path of "//evil.example/..%2Fadmin/" would otherwise make the
// base "//evil.example/../admin", and every link, form and redirect of the
// console would lead to evil.example.
func mountBase(r *http.Request) string {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || orig.URL == nil {
		return ""
	}
	full, rest := web.LocalPath(orig.URL.Path), web.LocalPath(r.URL.Path)
	if rest == "/" && !strings.HasSuffix(full, "/") {
		full += "/"
	}
	base, ok := strings.CutSuffix(full, rest)
	if !ok {
		return ""
	}
	return strings.TrimSuffix(base, "/")
}

func (rq *request) sessions() *web.Sessions {
	s := rq.co.sessions // a copy: the cookie path is per mount point
	s.Sealer, s.Ended = rq.co.h.app.Sealer(), rq.co.h.app.Store()
	s.Path = rq.base + "/"
	return &s
}

// signInCSRF is the sign-in form's CSRF cookie, on the console's path.
func (rq *request) signInCSRF() *web.SignInCSRF {
	c := rq.co.signIn
	c.Sealer = rq.co.h.app.Sealer()
	c.Path = rq.base + "/"
	return &c
}

// load reads the session and its user, who must still be an enabled
// admin, and builds the caller the API routes get.
func (rq *request) load() bool {
	sess, err := rq.sessions().Read(rq.r)
	if err != nil {
		// Fail closed: a session that cannot be checked is not one.
		rq.co.h.logger.Error("reading a console session", zap.Error(err))
	}
	if sess == nil {
		return false
	}
	u, err := rq.co.h.app.Store().GetUser(rq.r.Context(), sess.UserID)
	if err != nil || u.Disabled || !u.Admin || u.TenantID != sess.TenantID || u.PasswordHash == "" {
		return false
	}
	// A change to the user (a new password above all) ends the sessions
	// started before it: the cookie itself cannot be recalled.
	if started := sess.Expires.Add(-rq.co.sessions.TTL); u.UpdatedAt.After(started.Add(time.Second)) {
		return false
	}
	// The same constructor as the API's tokens: the session has exactly
	// the power the API gives the user.
	c, oerr := rq.co.h.callerFor(power.Grounds{Session: true, User: u}, nil)
	if oerr != nil {
		return false
	}
	c.remote = clientIP(rq.r)
	rq.sess, rq.me, rq.c = sess, u, c
	return true
}

// signIn checks a username and password. Attempts are counted per tenant
// and username and per client IP before the password is checked (so a
// burst of parallel guesses gets no more checks than a sequence); past a
// few, the admin must wait.
func (rq *request) signIn() {
	r := rq.r
	if err := rq.signInCSRF().Check(r); err != nil {
		rq.errorPage(http.StatusForbidden, err.Error())
		return
	}
	tenant := strings.TrimSpace(r.PostForm.Get("tenant"))
	if tenant == "" {
		tenant = store.DefaultTenantID
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	userKey := tenant + "\x00" + strings.ToLower(username)
	ipKey := clientIP(r)
	co := rq.co
	if wait := co.throttle.Acquire(userKey, ipKey); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
		web.LogSignInRefused(co.h.logger, r, web.SignInRefusal{Page: "console", Tenant: tenant, Throttled: true})
		rq.signInPage(http.StatusTooManyRequests, tenant, username,
			fmt.Sprintf("Too many failed sign-ins. Wait %d seconds and try again.", secs))
		return
	}
	var u *store.User
	if username != "" && validID(tenant) && printable(username) {
		found, err := co.h.app.Store().FindUser(r.Context(), tenant, username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			rq.serverError("loading a user", err)
			return
		}
		if err == nil && found.Username == username {
			u = found
		}
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	// CheckPassword spends the same time whether or not the tenant or the
	// user exists (an unknown or invalid tenant is an unknown user); a
	// failure keeps the attempt Acquire counted.
	if ok := web.CheckPassword(hash, password); !ok || u.Disabled || !u.Admin {
		web.LogSignInRefused(co.h.logger, r, web.SignInRefusal{Page: "console", Tenant: tenant, User: u, PasswordOK: ok, NeedAdmin: true})
		rq.signInPage(http.StatusUnauthorized, tenant, username, "Wrong tenant, username or password, or the user is not an admin.")
		return
	}
	co.throttle.Succeeded(userKey, ipKey)
	if _, err := rq.sessions().Start(rq.w, r, u.ID, u.TenantID); err != nil {
		rq.serverError("starting a session", err)
		return
	}
	rq.redirect("/console/apps")
}

func (rq *request) signInPage(status int, tenant, username, msg string) {
	if tenant == "" {
		tenant = store.DefaultTenantID
	}
	csrf, err := rq.signInCSRF().Token(rq.w, rq.r)
	if err != nil {
		rq.serverError("making a sign-in CSRF token", err)
		return
	}
	rq.render(status, "signin", "", "Sign in", struct{ Tenant, Username, CSRF string }{tenant, username, csrf}, nil, msg)
}

// redirect answers a form post or a stray GET with 303 to a console path.
func (rq *request) redirect(path string) {
	http.Redirect(rq.w, rq.r, rq.base+path, http.StatusSeeOther)
}

// render writes a page. errs are field errors of a failed form.
func (rq *request) render(status int, page, nav, title string, data any, errs map[string]string, msg string) {
	v := view{Base: rq.base, Me: rq.me, Nav: nav, Title: title, Errors: errs, Error: msg, D: data}
	if rq.sess != nil {
		v.CSRF = rq.sess.CSRF
		v.Super = rq.c.super
	}
	v.Flash = flashes[rq.r.URL.Query().Get("done")]
	if err := web.Render(rq.w, status, rq.co.pages[page], v); err != nil {
		rq.co.h.logger.Error("rendering a console page", zap.String("page", page), zap.Error(err))
	}
}

// flashes are the confirmations a redirect after a post shows (?done=).
var flashes = map[string]string{
	"deleted":  "The application was deleted.",
	"created":  "The user was added.",
	"declined": "The integration was declined.",
	"disabled": "The user was disabled.",
	"enabled":  "The user was enabled.",
	"password": "The password was changed.",
}

func (rq *request) errorPage(status int, msg string) {
	rq.render(status, "error", "", http.StatusText(status), nil, nil, msg)
}

func (rq *request) serverError(what string, err error) {
	rq.co.h.logger.Error("admin console failed", zap.String("doing", what), zap.Error(err))
	if p := internalProblem(err); p.retryAfter != "" {
		rq.w.Header().Set("Retry-After", p.retryAfter)
		rq.errorPage(p.Status, "The database is unavailable. Please try again in a moment.")
		return
	}
	rq.errorPage(http.StatusInternalServerError, "The server could not complete the request.")
}

// answer is what an API route answered in-process.
type answer struct {
	status  int
	body    []byte
	problem *problem
}

// call runs an admin API route in-process as the signed-in admin, with a
// JSON body (nil: none), query and path values (name, value pairs), so the
// console validates and authorises exactly as the API does.
func (rq *request) call(fn routeFunc, method, query string, body any, pathValues ...string) (*answer, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(rq.r.Context(), method, "/?"+query, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr = rq.r.RemoteAddr
	for i := 0; i+1 < len(pathValues); i += 2 {
		req.SetPathValue(pathValues[i], pathValues[i+1])
	}
	rec := httptest.NewRecorder()
	if err := fn(rec, req, rq.c); err != nil {
		var p *problem
		switch {
		case errors.As(err, &p), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict),
			errors.Is(err, store.ErrReferenced):
			rq.co.h.fail(rec, req, err)
		default:
			return nil, err
		}
	}
	a := &answer{status: rec.Code, body: rec.Body.Bytes()}
	if a.status >= 400 {
		a.problem = &problem{}
		if err := json.Unmarshal(a.body, a.problem); err != nil {
			return nil, fmt.Errorf("reading a problem: %w", err)
		}
	}
	return a, nil
}

// decode reads a successful answer into v.
func (a *answer) decode(v any) error { return json.Unmarshal(a.body, v) }

// fields turns a problem's field errors into a map for the form.
func (p *problem) fields() map[string]string {
	if p == nil || len(p.Errors) == 0 {
		return nil
	}
	m := make(map[string]string, len(p.Errors))
	for _, e := range p.Errors {
		if m[e.Field] == "" {
			m[e.Field] = e.Message
		} else {
			m[e.Field] += "; " + e.Message
		}
	}
	return m
}

// failed renders the error page for a problem the page cannot show in a form.
func (rq *request) failed(a *answer) {
	rq.errorPage(a.problem.Status, a.problem.Detail)
}

// pager is the offset navigation of a listing.
type pager struct {
	Offset, Limit int
	Total         int64
	Prev, Next    string // query strings, "" when there is no such page
}

func (rq *request) offset() int {
	n, err := strconv.Atoi(rq.r.URL.Query().Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func newPager(offset, limit int, total int64) pager {
	p := pager{Offset: offset, Limit: limit, Total: total}
	if offset > 0 {
		p.Prev = "offset=" + strconv.Itoa(max(offset-limit, 0))
	}
	if int64(offset+limit) < total {
		p.Next = "offset=" + strconv.Itoa(offset+limit)
	}
	return p
}

func pageQuery(offset int) string {
	return url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(consolePageSize)}}.Encode()
}
