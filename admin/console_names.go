package admin

import (
	"html/template"
	"net/http"
	"strings"
)

// ref is an id a console page shows by the name of what it names (a
// username, a client's name), with the id on hover. Name is "" when the
// thing is gone or the signed-in admin may not see it: the page then shows
// the id.
type ref struct{ ID, Name string }

// refHTML renders a ref: the name with the id as its title, or the id.
func refHTML(r ref) template.HTML {
	switch {
	case r.ID == "":
		return ""
	case r.Name == "":
		return template.HTML(`<span class="mono">` + template.HTMLEscapeString(r.ID) + `</span>`)
	}
	return template.HTML(`<span title="` + template.HTMLEscapeString(r.ID) + `">` + template.HTMLEscapeString(r.Name) + `</span>`)
}

// namer looks up the names of the users and clients a page shows through
// the API's own routes (getUser, getClient), so an admin learns exactly
// the names the API would tell it, and each id is asked for once a page.
type namer struct {
	rq    *request
	names map[string]string
}

func (rq *request) namer() *namer { return &namer{rq: rq, names: map[string]string{}} }

// user names a user id.
func (n *namer) user(id string) ref {
	return nameOf(n, "user:", n.rq.co.h.getUser, id, func(u *userView) string { return u.Username })
}

// client names a client id.
func (n *namer) client(id string) ref {
	return nameOf(n, "client:", n.rq.co.h.getClient, id, func(c *clientView) string { return c.Name })
}

// tenant names a tenant id.
func (n *namer) tenant(id string) ref {
	return nameOf(n, "tenant:", n.rq.co.h.getTenant, id, func(t *tenantView) string { return t.Name })
}

// nameOf names id through route, which answers a T, once a page.
func nameOf[T any](n *namer, kind string, route routeFunc, id string, name func(*T) string) ref {
	return n.lookup(kind, id, func() string {
		var v T
		if n.get(route, id, &v) {
			return name(&v)
		}
		return ""
	})
}

// principal names an owner or actor: a user (an admin user, a 3-legged
// token's subject) or a client (a 2-legged token's). Client ids the gateway
// makes start with sg_; others are tried as a user first.
func (n *namer) principal(id string) ref {
	if strings.HasPrefix(id, "sg_") {
		return n.client(id)
	}
	if r := n.user(id); r.Name != "" {
		return r
	}
	return n.client(id)
}

// via names the clients of an audit entry's via ("<client_id>" or
// "<client_id> act <actor>"); "console" and "" stay as they are.
func (n *namer) via(v string) []ref {
	if v == "" || v == consoleVia {
		return []ref{{ID: v}}
	}
	var out []ref
	for _, part := range strings.Split(v, " act ") {
		out = append(out, n.principal(part))
	}
	return out
}

// target names what an audit entry's action changed, when it is a client
// or a user.
func (n *namer) target(action, id string) ref {
	switch {
	case strings.HasPrefix(action, "client."):
		return n.client(id)
	case strings.HasPrefix(action, "user."), strings.HasPrefix(action, "consent."):
		return n.user(id)
	}
	return ref{ID: id}
}

func (n *namer) lookup(kind, id string, find func() string) ref {
	if id == "" {
		return ref{}
	}
	name, ok := n.names[kind+id]
	if !ok {
		name = find()
		n.names[kind+id] = name
	}
	return ref{ID: id, Name: name}
}

// get runs an API route for one id; false when it answers anything but
// the thing (gone, another tenant's, a failure).
func (n *namer) get(fn routeFunc, id string, v any) bool {
	if !validID(id) {
		return false
	}
	a, err := n.rq.call(fn, http.MethodGet, "", nil, "id", id)
	return err == nil && a.problem == nil && a.decode(v) == nil
}
