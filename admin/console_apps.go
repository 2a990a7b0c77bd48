package admin

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// appActions are the app detail's confirmed actions, with their button.
var appActions = map[string]string{
	"rotate":  "Rotate the secret",
	"disable": "Disable",
	"restore": "Restore",
	"delete":  "Delete",
}

// appActionText is the question each confirm page asks.
var appActionText = map[string]string{
	"rotate":  "A new secret is generated and shown once. The old secret keeps working for the grace period, then stops.",
	"disable": "The application's tokens are refused at once and it gets no new ones until it is restored.",
	"restore": "The application may get tokens again with its current secret.",
	"delete":  "The application and its credentials are deleted for good. This cannot be undone.",
}

// appRow is a client with its owner named.
type appRow struct {
	clientView
	OwnerRef ref
}

func (rq *request) appsPage() {
	off := rq.offset()
	var l list[clientView]
	if !rq.fetch(&l, "clients", rq.co.h.listClients, http.MethodGet, pageQuery(off), nil) {
		return
	}
	n := rq.namer()
	rows := make([]appRow, 0, len(l.Items))
	for _, c := range l.Items {
		rows = append(rows, appRow{clientView: c, OwnerRef: n.principal(c.Owner)})
	}
	rq.render(http.StatusOK, "apps", "apps", "Custom apps", struct {
		Apps  []appRow
		Pager pager
	}{rows, newPager(off, consolePageSize, l.Total)}, nil, "")
}

// newAppForm is the "Add application" form as submitted.
type newAppForm struct {
	AuthMethod         string
	Name               string
	Scopes             []string
	ConnectAs          string
	AllowImpersonation bool
	RedirectURI        string
	Lifetime           string
	MaxPerDay          string
	// On unless unticked, as the API's implicit_grant defaults to true.
	ImplicitGrant bool
}

// defaultAppForm is the empty "Add application" form: an API key, with the
// implicit grant ticked as the API's implicit_grant defaults to true.
var defaultAppForm = newAppForm{AuthMethod: store.AuthAPIKey, ImplicitGrant: true}

type newAppData struct {
	Form newAppForm
	// Scopes are the API's own; AdminScopes, offered apart, reach
	// Scopegate itself.
	Scopes      []scopeView
	AdminScopes []adminScope
	Users       []userView
	// An API key connects as the signed-in admin (connect_as_creator), so
	// the form shows that instead of a choice.
	CreatorConnects bool
	// Every API key connects as a user (require_connect_as): the choice
	// offers no "nobody", and the signed-in admin comes preselected.
	ConnectAsRequired bool
	// The signed-in admin may let a key act on behalf of its tenant's users
	// (power.OverUsersOf, as the API requires); else the box is not shown.
	CanImpersonate bool
}

// adminScope is a scope the form offers under "Admin access", with what it
// hands the application.
type adminScope struct {
	scopeView
	Grants string
}

// scopes splits the catalogue for the form: the API's scopes, and apart
// the ones that give admin power (scopegate.admin, scopegate.tenant_admin
// and whatever implies them) or are otherwise Scopegate's own. An admin
// scope is offered only to an admin who holds its power (module/power, the
// rule the API then enforces): a tenant admin never sees scopegate.admin.
func (rq *request) scopes() ([]scopeView, []adminScope) {
	cat := rq.co.h.app.Catalogue()
	var api []scopeView
	var admin []adminScope
	for _, s := range cat.All() {
		v := scopeView{Name: s.Name, Description: s.Description, Legs: s.Legs.String()}
		needs := power.Needed(cat, []string{s.Name}, rq.c.tenant)
		if !rq.c.covers(needs) {
			continue
		}
		switch {
		case needs.Level == power.Super:
			admin = append(admin, adminScope{v, "Makes the application a super admin: through the admin API it can create, change and delete " +
				"the clients, users and integrations of every tenant, reset any password, read every audit log and rotate the signing keys."})
		case needs.Level == power.Tenant:
			tenant := rq.namer().tenant(rq.c.tenant)
			if tenant.Name == "" {
				tenant.Name = tenant.ID
			}
			admin = append(admin, adminScope{v, "Makes the application an admin of the tenant “" + tenant.Name + "”: through the admin API " +
				"it can create, change and delete that tenant's clients and users, reset their passwords and read its audit log."})
		case s.Name == scope.Introspect:
			admin = append(admin, adminScope{v, "Lets the application introspect (RFC 7662) the tokens of every client of its tenant, " +
				"and read their claims: for a resource server that checks tokens it did not ask for."})
		case builtIn(s.Name):
			admin = append(admin, adminScope{v, "Reaches Scopegate's own endpoints, not your API."})
		default:
			api = append(api, v)
		}
	}
	return api, admin
}

// builtIn reports whether name is one of the scopes Scopegate always knows.
func builtIn(name string) bool {
	for _, s := range scope.BuiltIn() {
		if s.Name == name {
			return true
		}
	}
	return false
}

// tenantUsers lists the enabled users of the admin's tenant an API key may
// connect as: those whose power the signed-in admin covers, the rule the
// API enforces (a tenant admin of the default tenant is not offered a
// super admin, whom it may not connect a client as).
func (rq *request) tenantUsers() []userView {
	q := "tenant_id=" + url.QueryEscape(rq.c.tenant) + "&limit=" + strconv.Itoa(maxLimit)
	a, err := rq.call(rq.co.h.listUsers, http.MethodGet, q, nil)
	var l list[userView]
	if err != nil || a.problem != nil || a.decode(&l) != nil {
		return nil
	}
	out := l.Items[:0]
	for _, u := range l.Items {
		if !u.Disabled && rq.mayChange(u) {
			out = append(out, u)
		}
	}
	return out
}

func (rq *request) newAppPage(status int, f newAppForm, errs map[string]string, msg string) {
	api, admin := rq.scopes()
	required := rq.co.h.RequireConnectAs && !rq.co.h.ConnectAsCreator
	users := rq.tenantUsers()
	if required && rq.me != nil {
		if f.ConnectAs == "" {
			f.ConnectAs = rq.me.ID
		}
		// The list stops at maxLimit users: the preselected admin must be
		// in it, or the browser would send the first user instead.
		if !slices.ContainsFunc(users, func(u userView) bool { return u.ID == rq.me.ID }) {
			users = append([]userView{{ID: rq.me.ID, Username: rq.me.Username, DisplayName: rq.me.DisplayName}}, users...)
		}
	}
	rq.render(status, "app_new", "apps", "Add application", newAppData{
		Form: f, Scopes: api, AdminScopes: admin, Users: users, CreatorConnects: rq.co.h.ConnectAsCreator,
		ConnectAsRequired: required, CanImpersonate: rq.c.covers(power.OverUsersOf(rq.c.tenant)),
	}, errs, msg)
}

// createApp posts the form to POST /clients and shows the secret once.
func (rq *request) createApp() {
	pf := rq.r.PostForm
	f := newAppForm{
		AuthMethod: pf.Get("auth_method"), Name: pf.Get("name"), Scopes: pf["scopes"],
		ConnectAs: pf.Get("connect_as_user_id"), AllowImpersonation: pf.Get("allow_impersonation") == "on",
		RedirectURI: strings.TrimSpace(pf.Get("redirect_uri")),
		Lifetime:    strings.TrimSpace(pf.Get("token_lifetime_minutes")), MaxPerDay: strings.TrimSpace(pf.Get("max_minutes_per_day")),
		ImplicitGrant: pf.Get("implicit_grant") == "on",
	}
	scopes := f.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	// An unticked box is absent from the form, so this is always sent.
	body := clientBody{Name: &f.Name, Scopes: &scopes, AuthMethod: &f.AuthMethod, ImplicitGrant: &f.ImplicitGrant}
	if f.AuthMethod == store.AuthAPIKey {
		if f.ConnectAs != "" {
			body.ConnectAsUserID = &f.ConnectAs
		}
		body.AllowImpersonation = &f.AllowImpersonation
	}
	if f.RedirectURI != "" {
		body.RedirectURIs = &[]string{f.RedirectURI}
	}
	formErrs := map[string]string{}
	for field, in := range map[string]struct {
		raw string
		dst **int
	}{"token_lifetime_minutes": {f.Lifetime, &body.TokenLifetimeMinutes}, "max_minutes_per_day": {f.MaxPerDay, &body.MaxMinutesPerDay}} {
		if in.raw == "" {
			continue
		}
		n, err := strconv.Atoi(in.raw)
		if err != nil {
			formErrs[field] = "must be a whole number of minutes"
			continue
		}
		*in.dst = &n
	}
	create := rq.co.h.createClient
	if len(formErrs) > 0 {
		// The rest is only checked, so one round trip shows every mistake:
		// created without these fields, the client was saved with the
		// default lifetime, its secret never shown, while the page said
		// nothing had happened (red team).
		create = rq.co.h.checkNewClient
	}
	a, err := rq.call(create, http.MethodPost, "", body)
	if err != nil {
		rq.serverError("creating a client", err)
		return
	}
	if a.problem != nil || len(formErrs) > 0 {
		errs := a.problem.fields()
		if errs == nil {
			errs = map[string]string{}
		}
		maps.Copy(errs, formErrs)
		msg, status := "Fix the fields marked below.", http.StatusBadRequest
		if a.problem != nil && a.problem.Status != http.StatusBadRequest {
			msg, status = a.problem.Detail, a.problem.Status
		}
		rq.newAppPage(status, f, errs, msg)
		return
	}
	var v clientView
	if err := a.decode(&v); err != nil {
		rq.serverError("reading a new client", err)
		return
	}
	rq.render(http.StatusCreated, "app_secret", "apps", "Application created", secretPage{App: v, Created: true}, nil, "")
}

// appPage shows a client; secret is its revealed secret, if any.
func (rq *request) appPage(id, secret string) {
	var v clientView
	if !rq.fetch(&v, "a client", rq.co.h.getClient, http.MethodGet, "", nil, "id", id) {
		return
	}
	n := rq.namer()
	var connectAs ref // none: ID ""
	if v.ConnectAsUserID != nil {
		connectAs = n.user(*v.ConnectAsUserID)
	}
	rq.render(http.StatusOK, "app_detail", "apps", v.Name, struct {
		App       appRow
		Secret    string
		Owner     bool
		CanRotate bool // the API refuses others
		ConnectAs ref
	}{appRow{v, n.principal(v.Owner)}, secret, v.Owner == rq.c.principal, mayRotate(rq.c, v.Owner), connectAs}, nil, "")
}

// revealSecret asks GET /clients/{id}/secret, which reveals (and audits)
// the secret for its owner and masks it for everybody else.
func (rq *request) revealSecret(id string) {
	var v secretView
	if !rq.fetch(&v, "a secret", rq.co.h.clientSecret, http.MethodGet, "", nil, "id", id) {
		return
	}
	rq.appPage(id, v.ClientSecret)
}

func (rq *request) confirmAppAction(id, action string) {
	var v clientView
	if !rq.fetch(&v, "a client", rq.co.h.getClient, http.MethodGet, "", nil, "id", id) {
		return
	}
	rq.render(http.StatusOK, "confirm", "apps", appActions[action]+" "+v.Name+"?", confirmData{
		Question: appActions[action] + " “" + v.Name + "”?", Text: appActionText[action],
		Action: "/console/apps/" + v.ClientID + "/" + action, Button: appActions[action],
		Danger: action != "restore", Back: "/console/apps/" + v.ClientID,
	}, nil, "")
}

// secretPage shows a client id and secret once.
type secretPage struct {
	App     clientView
	Created bool
	// When the previous secret stops working (rotation only).
	Until *time.Time
}

type confirmData struct {
	Question, Text, Action, Button, Back string
	Danger                               bool
}

// appAction runs a confirmed action through its API route.
func (rq *request) appAction(id, action string) {
	h := rq.co.h
	fn := map[string]routeFunc{
		"rotate": h.rotateClient, "disable": h.disableClient, "restore": h.restoreClient, "delete": h.deleteClient,
	}[action]
	method := http.MethodPost
	if action == "delete" {
		method = http.MethodDelete
	}
	a, err := rq.call(fn, method, "", nil, "id", id)
	if err != nil {
		rq.serverError(action+" a client", err)
		return
	}
	if a.problem != nil {
		rq.failed(a)
		return
	}
	switch action {
	case "delete":
		rq.redirect("/console/apps?done=deleted")
	case "rotate":
		var v rotateView
		if err := a.decode(&v); err != nil {
			rq.serverError("reading a rotation", err)
			return
		}
		rq.flash = "The secret was rotated."
		rq.render(http.StatusOK, "app_secret", "apps", "New secret", secretPage{
			App: clientView{ClientID: v.ClientID, ClientSecret: v.ClientSecret}, Until: v.PreviousSecretValidUntil,
		}, nil, "")
	case "disable":
		rq.redirect("/console/apps/" + url.PathEscape(id) + "?done=app_disabled")
	case "restore":
		rq.redirect("/console/apps/" + url.PathEscape(id) + "?done=app_restored")
	}
}
