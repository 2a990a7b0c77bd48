package admin

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/text/unicode/norm"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/guard"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// ConsoleCookie names the admin console's session cookie. The names are
// new since the cookies moved under …/console/ (see oldConsoleCookies).
const ConsoleCookie = "scopegate_console_session"

// consoleVia is what the audit log says console actions came through
// (client ids start with sg_, so it cannot be mistaken for one).
const consoleVia = "console"

// ConsoleCSRFCookie holds the sign-in form's CSRF token (web.SignInCSRF).
const ConsoleCSRFCookie = "scopegate_console_signin"

// oldConsoleCookies are the names the console's cookies had when they were
// set for the whole mount point (Path=/ with the console at a site's root,
// so every upstream of the host received an admin's session). The sign-in
// page expires any a browser still sends; new names keep an old cookie from
// shadowing a new one meanwhile.
var oldConsoleCookies = []string{"scopegate_console", "scopegate_console_csrf"}

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
	mux      *http.ServeMux // consoleRoutes
	pages    map[string]*template.Template
	sessions web.Sessions
	signIn   web.SignInCSRF
	// Sign-in attempts, per tenant and username and per client IP.
}

// newConsole parses the embedded pages; they are part of the binary, so a
// parse error is a programming error.
func newConsole(h *Handler) *console {
	pages, err := web.Pages(consoleTemplates, "templates/*.html", consoleFuncs)
	if err != nil {
		panic(fmt.Sprintf("admin console pages: %v", err))
	}
	co := &console{
		h: h, pages: pages,
		// The sealer and the store are set per request (sessions, signInCSRF):
		// the app opens its database when it starts, after provisioning.
		sessions: web.Sessions{Name: ConsoleCookie, TTL: 8 * time.Hour}, // Path: sessions()
		signIn:   web.SignInCSRF{Name: ConsoleCSRFCookie, TTL: 12 * time.Hour},
	}
	co.mux = co.consoleRoutes()
	return co
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
	"ref":  refHTML,
	"flash": func(v view) template.HTML {
		if v.Flash == "" {
			return ""
		}
		return template.HTML(`<p class="notice flash" role="status" id="flash">` + template.HTMLEscapeString(v.Flash) + `</p>`)
	},
}

// navItems are the console's sections.
var navItems = []struct{ key, path, label string }{
	{"apps", "/console/apps", "Custom apps"},
	{"integrations", "/console/integrations", "Integrations & API access"},
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
	b.WriteString(`<nav aria-label="Console"><ul class="nav">`)
	for _, it := range navItems {
		cur := ""
		if it.key == v.Nav {
			cur = ` aria-current="page"`
		}
		fmt.Fprintf(&b, `<li><a href="%s"%s>%s</a></li>`, template.HTMLEscapeString(v.Base+it.path), cur, template.HTMLEscapeString(it.label))
	}
	fmt.Fprintf(&b, `</ul></nav><form method="post" action="%s" class="signout"><input type="hidden" name="csrf" value="%s">`+
		`<span class="who">%s</span> <button type="submit" class="secondary">Sign out</button></form>`,
		template.HTMLEscapeString(v.Base+"/console/signout"), template.HTMLEscapeString(v.CSRF), template.HTMLEscapeString(v.Me.Username))
	return template.HTML(b.String())
}

// isConsole reports whether a request is for the console: a browser
// (no Authorization header at all: an empty or repeated one is the API's to
// refuse) asking for the root or a page under /console/.
func isConsole(r *http.Request) bool {
	return len(guard.CallerAuthorization(r)) == 0 &&
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
	// flash is the confirmation of what a post did, for a page it renders
	// itself rather than redirecting to (see flashes).
	flash string
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
	s.Path = rq.base + "/console/"
	return &s
}

// signInCSRF is the sign-in form's CSRF cookie, on the console's path.
func (rq *request) signInCSRF() *web.SignInCSRF {
	c := rq.co.signIn
	c.Sealer = rq.co.h.app.Sealer()
	c.Path = rq.base + "/console/"
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
	// signed in before it: the cookie itself cannot be recalled.
	if !sess.For(u.UpdatedAt) {
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
	// shown is what the form shows again after a refusal: what was typed.
	shown := strings.TrimSpace(r.PostForm.Get("tenant"))
	tenant := shown
	if tenant == "" {
		tenant = store.DefaultTenantID
	} else if id, err := rq.co.h.app.Store().TenantIDFor(r.Context(), tenant); err == nil {
		// Its id or its name: counted and checked under the id, so the
		// two spellings share one count of attempts.
		tenant = id
	} else if r.Context().Err() != nil {
		rq.w.WriteHeader(web.StatusClientGone) // the caller hung up: nothing to answer, nothing failed
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		rq.serverError("finding a tenant", err)
		return
	}
	// NFC, as usernames are stored: é typed as e + U+0301 signs in too.
	username := norm.NFC.String(strings.TrimSpace(r.PostForm.Get("username")))
	password := r.PostForm.Get("password")
	// Counted by the name exactly as it must match: a spelling that
	// differs in case names no one, so it needs no share of this count.
	userKey := tenant + "\x00" + username
	ipKey := clientIP(r)
	co := rq.co
	attempt, wait := co.h.app.SignInThrottle().Acquire(userKey, ipKey)
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		rq.w.Header().Set("Retry-After", strconv.Itoa(secs))
		web.LogSignInThrottled(co.h.throttled, r, "console", "", func() string { return co.h.knownTenant(r.Context(), tenant) })
		rq.signInPage(http.StatusTooManyRequests, shown, username,
			fmt.Sprintf("Too many failed sign-ins. Wait %d seconds and try again.", secs))
		return
	}
	var u *store.User
	if username != "" && validID(tenant) && printable(username) {
		// Not cancelled with the request: a lookup cut short would answer
		// 500 and log an error; the store bounds the query's time. A
		// caller gone by its password's turn is not checked
		// (SignInAttempt.CheckPassword).
		found, err := co.h.app.Store().FindUser(context.WithoutCancel(r.Context()), tenant, username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			attempt.Abandon()
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
	ok, err := attempt.CheckPassword(r.Context(), hash, password)
	if err != nil {
		status, msg := web.NotChecked(rq.w.Header(), err)
		if status == web.StatusClientGone {
			rq.w.WriteHeader(status)
			return
		}
		rq.signInPage(status, shown, username, msg)
		return
	}
	if !ok || u.Disabled || !u.Admin {
		web.LogSignInRefused(co.h.logger, r, web.SignInRefusal{Page: "console", Tenant: co.h.knownTenant(r.Context(), tenant), User: u, PasswordOK: ok, NeedAdmin: true})
		rq.signInPage(http.StatusUnauthorized, shown, username, "Wrong tenant, username or password, or the user is not an admin.")
		return
	}
	attempt.Succeeded()
	if _, err := rq.sessions().Start(rq.w, r, u.ID, u.TenantID, u.UpdatedAt); err != nil {
		rq.serverError("starting a session", err)
		return
	}
	rq.redirect("/console/apps")
}

func (rq *request) signInPage(status int, tenant, username, msg string) {
	if tenant == "" {
		tenant = store.DefaultTenantID
	}
	for _, name := range oldConsoleCookies {
		if _, err := rq.r.Cookie(name); err == nil {
			http.SetCookie(rq.w, &http.Cookie{Name: name, Path: rq.base + "/", MaxAge: -1, HttpOnly: true, Secure: web.IsTLS(rq.r)})
		}
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
	if rq.flash != "" {
		v.Flash = rq.flash
	}
	if err := web.Render(rq.w, status, rq.co.pages[page], v); err != nil {
		rq.co.h.logger.Error("rendering a console page", zap.String("page", page), zap.Error(err))
	}
}

// flashes are the confirmations a redirect after a post shows (?done=).
var flashes = map[string]string{
	"deleted":      "The application was deleted.",
	"app_disabled": "The application was disabled: its tokens are refused and it gets no new ones until it is restored.",
	"app_restored": "The application was restored: it may get tokens again.",
	"created":      "The user was added.",
	"declined":     "The integration was declined.",
	"disabled":     "The user was disabled.",
	"enabled":      "The user was enabled.",
	"password":     "The password was changed.",
}

func (rq *request) errorPage(status int, msg string) {
	rq.render(status, "error", "", http.StatusText(status), nil, nil, msg)
}

func (rq *request) serverError(what string, err error) {
	app.LogFailure(rq.co.h.logger, zap.ErrorLevel, "admin console failed", err, zap.String("doing", what))
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
	status, out, err := inProcess{fn: fn, method: method, query: query, body: body, path: pathValues, remote: rq.r.RemoteAddr}.run(rq.r.Context(), rq.c)
	if err != nil {
		return nil, err
	}
	a := &answer{status: status, body: out}
	if status >= 400 {
		if a.problem, err = readProblem(status, out); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// fetch runs an API route for a page and reads its answer into v. When
// anything fails it has already answered the browser (the error page, or the
// API's problem as a page) and returns false. what names the thing for the
// log: "loading "+what when the route fails, "reading "+what when its answer
// does not decode.
func (rq *request) fetch(v any, what string, fn routeFunc, method, query string, body any, pathValues ...string) bool {
	a, err := rq.call(fn, method, query, body, pathValues...)
	if err != nil {
		rq.serverError("loading "+what, err)
		return false
	}
	if a.problem != nil {
		rq.failed(a)
		return false
	}
	if err := a.decode(v); err != nil {
		rq.serverError("reading "+what, err)
		return false
	}
	return true
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
	// Prev and Next are links relative to the page ("?offset=50"), "" when
	// there is no such page. Whole links, not query strings after a "?" in
	// the template, where html/template escapes them as one value
	// ("?offset%3d50", which reads as offset 0).
	Prev, Next string
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
		p.Prev = "?offset=" + strconv.Itoa(max(offset-limit, 0))
	}
	// Compared without adding to offset, which a link may set near the
	// largest int.
	if int64(offset) < total-int64(limit) {
		p.Next = "?offset=" + strconv.Itoa(offset+limit)
	}
	return p
}

func pageQuery(offset int) string {
	return url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(consolePageSize)}}.Encode()
}

// knownTenant returns typed, a tenant id from the sign-in form, when such a
// tenant exists, else "": what the log may show of the field. A mistyped
// tenant may be a password typed into the wrong field.
func (h *Handler) knownTenant(ctx context.Context, typed string) string {
	if !validID(typed) {
		return ""
	}
	if _, err := h.app.Store().GetTenant(ctx, typed); err != nil {
		return ""
	}
	return typed
}
