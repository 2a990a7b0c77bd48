package admin

import (
	"net/http"
	"strings"

	"github.com/scopegate/scopegate/module/power"
)

func (rq *request) usersPage() {
	off := rq.offset()
	var l list[userView]
	if !rq.fetch(&l, "users", rq.co.h.listUsers, http.MethodGet, pageQuery(off), nil) {
		return
	}
	rows := make([]userRow, 0, len(l.Items))
	for _, u := range l.Items {
		rows = append(rows, userRow{u, rq.mayChange(u)})
	}
	rq.render(http.StatusOK, "users", "users", "Users", struct {
		Users []userRow
		Pager pager
	}{rows, newPager(off, consolePageSize, l.Total)}, nil, "")
}

// userRow is a user with whether the signed-in admin may change it.
type userRow struct {
	userView
	CanChange bool
}

// mayChange reports whether the signed-in admin may disable, enable or
// reset the password of u: only a user whose power it covers, the rule
// PATCH /users/{id} enforces (module/power), so the page offers no button
// the API would answer with 403.
func (rq *request) mayChange(u userView) bool {
	return rq.c.covers(power.ForUser(u.TenantID, u.Admin, u.SuperAdmin))
}

// userForm is the "Add user" form as submitted (never the password).
type userForm struct {
	Username, DisplayName, Email string
	Admin, SuperAdmin            bool
}

// createUser posts the form to POST /users.
func (rq *request) createUser() {
	pf := rq.r.PostForm
	f := userForm{Username: strings.TrimSpace(pf.Get("username")), DisplayName: pf.Get("display_name"),
		Email: strings.TrimSpace(pf.Get("email")), Admin: pf.Get("admin") == "on", SuperAdmin: pf.Get("super_admin") == "on"}
	body := newUserBody{Username: &f.Username, DisplayName: &f.DisplayName, Email: &f.Email, Admin: &f.Admin}
	if f.SuperAdmin { // the API decides whether the signed-in admin may
		body.SuperAdmin = &f.SuperAdmin
	}
	if pw := pf.Get("password"); pw != "" {
		body.Password = &pw
	}
	a, err := rq.call(rq.co.h.createUser, http.MethodPost, "", body)
	if err != nil {
		rq.serverError("creating a user", err)
		return
	}
	if a.problem != nil {
		msg := a.problem.Detail
		if a.problem.Status == http.StatusBadRequest {
			msg = "Fix the fields marked below."
		}
		rq.render(a.problem.Status, "user_new", "users", "Add user", f, a.problem.fields(), msg)
		return
	}
	rq.redirect("/console/users?done=created")
}

// setUserDisabled sends PATCH /users/{id} {"disabled": …}.
func (rq *request) setUserDisabled(id string, disabled bool) {
	a, err := rq.call(rq.co.h.patchUser, http.MethodPatch, "", userPatchBody{Disabled: &disabled}, "id", id)
	if err != nil {
		rq.serverError("disabling a user", err)
		return
	}
	if a.problem != nil {
		rq.failed(a)
		return
	}
	if disabled {
		rq.redirect("/console/users?done=disabled")
	} else {
		rq.redirect("/console/users?done=enabled")
	}
}

func (rq *request) passwordPage(id string, status int, errs map[string]string) {
	var u userView
	if !rq.fetch(&u, "a user", rq.co.h.getUser, http.MethodGet, "", nil, "id", id) {
		return
	}
	if !rq.mayChange(u) {
		rq.errorPage(http.StatusForbidden, "Only a super admin may reset the password of "+u.Username+".")
		return
	}
	msg := ""
	if errs != nil {
		msg = "Fix the fields marked below."
	}
	rq.render(status, "user_password", "users", "Reset password", u, errs, msg)
}

// resetPassword sends PATCH /users/{id} {"password": …}.
func (rq *request) resetPassword(id string) {
	pw := rq.r.PostForm.Get("password")
	if pw == "" {
		rq.passwordPage(id, http.StatusBadRequest, map[string]string{"password": "is required"})
		return
	}
	a, err := rq.call(rq.co.h.patchUser, http.MethodPatch, "", userPatchBody{Password: &pw}, "id", id)
	if err != nil {
		rq.serverError("setting a password", err)
		return
	}
	if a.problem != nil {
		if a.problem.Status == http.StatusBadRequest {
			rq.passwordPage(id, http.StatusBadRequest, a.problem.fields())
			return
		}
		rq.failed(a)
		return
	}
	rq.redirect("/console/users?done=password")
}

// auditRow is an audit entry with its users and clients named.
type auditRow struct {
	auditView
	Who, What ref
	Through   []ref
}

func (rq *request) auditPage() {
	off := rq.offset()
	var l list[auditView]
	if !rq.fetch(&l, "the audit log", rq.co.h.listAudit, http.MethodGet, pageQuery(off), nil) {
		return
	}
	n := rq.namer()
	rows := make([]auditRow, 0, len(l.Items))
	for _, e := range l.Items {
		rows = append(rows, auditRow{auditView: e, Who: n.principal(e.Actor), What: n.target(e.Action, e.Target), Through: n.via(e.Via)})
	}
	rq.render(http.StatusOK, "audit", "audit", "Audit log", struct {
		Entries []auditRow
		Pager   pager
	}{rows, newPager(off, consolePageSize, l.Total)}, nil, "")
}
