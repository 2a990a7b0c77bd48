package admin

import (
	"net/http"
	"path"

	"github.com/scopegate/scopegate/module/web"
)

// consoleRoutes builds the console's mux with method and path patterns, as
// setup builds the API's: a page is one line here, and ServeMux decides
// what is unknown (404) and what is the wrong method (405). GET patterns
// answer HEAD too. Pages marked public are served without a session; every
// other page needs one, and every POST to it the session's CSRF token
// (enter).
func (co *console) consoleRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	page := func(pattern string, fn func(rq *request)) { co.handle(mux, pattern, false, fn) }
	id := func(rq *request) string { return rq.r.PathValue("id") }

	co.handle(mux, "GET /{$}", true, (*request).home)
	co.handle(mux, "GET /console/signin", true, (*request).home)
	co.handle(mux, "POST /console/signin", true, (*request).signIn)
	page("POST /console/signout", (*request).signOut)

	page("GET /console/apps", (*request).appsPage)
	page("GET /console/apps/new", func(rq *request) { rq.newAppPage(http.StatusOK, defaultAppForm, nil, "") })
	page("POST /console/apps/new", (*request).createApp)
	page("GET /console/apps/{id}", func(rq *request) { rq.appPage(id(rq), "") })
	page("POST /console/apps/{id}/secret", func(rq *request) { rq.revealSecret(id(rq)) })
	for action := range appActions {
		// GET asks for confirmation; the confirm page's form posts.
		page("GET /console/apps/{id}/"+action, func(rq *request) { rq.confirmAppAction(id(rq), action) })
		page("POST /console/apps/{id}/"+action, func(rq *request) { rq.appAction(id(rq), action) })
	}

	appID := func(rq *request) string { return rq.r.PathValue("app_id") }
	page("GET /console/integrations", (*request).integrationsPage)
	page("GET /console/integrations/{app_id}", func(rq *request) { rq.integrationPage(appID(rq), http.StatusOK, nil, "") })
	page("POST /console/integrations/{app_id}/allow", func(rq *request) { rq.allowIntegration(appID(rq)) })
	page("POST /console/integrations/{app_id}/decline", func(rq *request) { rq.declineIntegration(appID(rq)) })

	page("GET /console/users", (*request).usersPage)
	page("GET /console/users/new", func(rq *request) {
		rq.render(http.StatusOK, "user_new", "users", "Add user", userForm{}, nil, "")
	})
	page("POST /console/users/new", (*request).createUser)
	page("POST /console/users/{id}/disable", func(rq *request) { rq.setUserDisabled(id(rq), true) })
	page("POST /console/users/{id}/enable", func(rq *request) { rq.setUserDisabled(id(rq), false) })
	page("GET /console/users/{id}/password", func(rq *request) { rq.passwordPage(id(rq), http.StatusOK, nil) })
	page("POST /console/users/{id}/password", func(rq *request) { rq.resetPassword(id(rq)) })

	page("GET /console/audit", (*request).auditPage)
	return mux
}

// handle registers fn for pattern. public pages need no session.
func (co *console) handle(mux *http.ServeMux, pattern string, public bool, fn func(rq *request)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rq := &request{w: w, r: r, co: co, base: mountBase(r)}
		if web.TooManyParams(r.URL.RawQuery) {
			rq.errorPage(http.StatusBadRequest, "The link has too many parameters.")
			return
		}
		if r.Method == http.MethodPost {
			if err := web.ParseForm(w, r, maxBody); err != nil {
				rq.errorPage(http.StatusBadRequest, "The form could not be read.")
				return
			}
		}
		if !public && !rq.enter() {
			return
		}
		fn(rq)
	})
}

// serve answers a console request: a page of the mux, or the error page for
// a path it does not know (404) or a method the path does not take (405).
func (co *console) serve(w http.ResponseWriter, r *http.Request) {
	if err := co.h.app.Available(); err != nil { // the app's start failed
		rq := &request{w: w, r: r, co: co, base: mountBase(r)}
		rq.serverError("serving the console", err)
		return
	}
	// ServeMux would redirect a path that is not canonical to a location
	// that lacks the prefix handle_path stripped: such paths are unknown.
	if p := r.URL.EscapedPath(); path.Clean(p) != p {
		co.unknown(w, r, http.StatusNotFound, "")
		return
	}
	if fallback, pattern := co.mux.Handler(r); pattern == "" {
		// ServeMux answers both in plain text; learn which one it is.
		probe := &probeWriter{header: http.Header{}}
		fallback.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			co.unknown(w, r, http.StatusMethodNotAllowed, probe.header.Get("Allow"))
			return
		}
		co.unknown(w, r, http.StatusNotFound, "")
		return
	}
	co.mux.ServeHTTP(w, r)
}

// unknown shows the 404 or 405 page, with the navigation when the browser
// has a session.
func (co *console) unknown(w http.ResponseWriter, r *http.Request, status int, allow string) {
	rq := &request{w: w, r: r, co: co, base: mountBase(r)}
	rq.load()
	if status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", allow)
		rq.errorPage(status, "This page does not take that method.")
		return
	}
	rq.errorPage(status, "There is no such page.")
}

// enter admits a request to a page that needs a session: without one, a
// GET goes to the sign-in form and a POST is refused (it cannot carry a
// valid CSRF token); with one, a POST must carry the session's CSRF token
// and come from this site.
func (rq *request) enter() bool {
	post := rq.r.Method == http.MethodPost
	if !rq.load() {
		if post {
			rq.errorPage(http.StatusForbidden, web.ErrCSRF.Error())
		} else {
			rq.redirect(signInPath)
		}
		return false
	}
	if post {
		if err := web.CheckCSRF(rq.r, rq.sess); err != nil {
			rq.errorPage(http.StatusForbidden, err.Error())
			return false
		}
	}
	return true
}

// signInPath is where the sign-in form is shown, under the path of its
// CSRF cookie (console.go: signInCSRF), which is never sent to the
// console's root: a form shown there could not find the token it set, and
// set a new one at each view, so of two tabs opened there only the last
// could sign in (the first was refused as cross-site).
const signInPath = "/console/signin"

// home sends a signed-in admin to the apps page and anyone else to the
// sign-in form, which it shows at signInPath.
func (rq *request) home() {
	switch {
	case rq.load():
		rq.redirect("/console/apps")
	case rq.r.URL.Path != signInPath:
		rq.redirect(signInPath)
	default:
		rq.signInPage(http.StatusOK, "", "", "")
	}
}

// signOut ends the session on the server and in the browser.
func (rq *request) signOut() {
	if err := rq.sessions().End(rq.w, rq.r); err != nil {
		rq.serverError("ending a session", err)
		return
	}
	rq.redirect(signInPath)
}
