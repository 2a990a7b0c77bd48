package admin

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Super admins create tenants (chosen or random id), list them all and read
// any; a duplicate id or name is 409 (naming no made-up id when none was
// sent: it named a fresh UUID no tenant has), and so is an id differing from
// another's only in letter case; bad ids and names are named fields.
func TestTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		acme := decode[tenantView](t, e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "acme", "name": "Acme Corp"}), http.StatusCreated))
		if acme.ID != "acme" || acme.Name != "Acme Corp" || acme.CreatedAt.IsZero() {
			t.Fatalf("create answered %+v", acme)
		}
		random := decode[tenantView](t, e.want(e.do("POST", "/tenants", e.super, map[string]any{"name": "Globex"}), http.StatusCreated))
		if len(random.ID) != 36 {
			t.Fatalf("generated tenant id %q is not a UUID", random.ID)
		}
		problemOf(t, e.do("POST", "/tenants", e.super, map[string]any{"id": "acme", "name": "Other"}), http.StatusConflict)
		problemOf(t, e.do("POST", "/tenants", e.super, map[string]any{"id": "acme2", "name": "Acme Corp"}), http.StatusConflict)
		if p := problemOf(t, e.do("POST", "/tenants", e.super, map[string]any{"name": "Globex"}), http.StatusConflict); p.Detail != `a tenant named "Globex" already exists` {
			t.Errorf("a duplicate name without an id: %q", p.Detail)
		}
		if p := problemOf(t, e.do("POST", "/tenants", e.super, map[string]any{"name": "acme"}), http.StatusConflict); strings.Contains(p.Detail, "as its name") {
			t.Errorf("a name that is another tenant's id, sent without an id: %q names a made-up id", p.Detail)
		}
		// One word never names two tenants, the sign-in form taking an id
		// or a name: a name that is another tenant's id, an id that is
		// another's name, are 409 and create nothing.
		e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "delta", "name": "initech"}), http.StatusCreated)
		for _, body := range []map[string]any{{"id": "beta", "name": "acme"}, {"id": "initech", "name": "Initech Inc"}, {"id": "gamma", "name": "default"}} {
			p := problemOf(t, e.do("POST", "/tenants", e.super, body), http.StatusConflict)
			if !strings.Contains(p.Detail, "sign-in") {
				t.Errorf("POST /tenants %v: %q does not say why", body, p.Detail)
			}
		}
		// An id differing from another's only in letter case is 409 too:
		// an upstream may compare tenant ids without case.
		for _, body := range []map[string]any{{"id": "ACMe", "name": "zz1"}, {"id": "Delta", "name": "zz2"}} {
			p := problemOf(t, e.do("POST", "/tenants", e.super, body), http.StatusConflict)
			if !strings.Contains(p.Detail, "letter case") {
				t.Errorf("POST /tenants %v: %q does not say why", body, p.Detail)
			}
		}
		for _, id := range []string{"beta", "initech", "gamma", "ACMe", "Delta"} {
			e.want(e.do("GET", "/tenants/"+url.PathEscape(id), e.super, nil), http.StatusNotFound)
		}

		for name, tc := range map[string]struct {
			body any
			want []string
		}{
			"no name":   {map[string]any{"id": "x"}, []string{"name"}},
			"bad id":    {map[string]any{"id": "has space", "name": "n"}, []string{"id"}},
			"dot first": {map[string]any{"id": ".x", "name": "n"}, []string{"id"}},
			"empty id":  {map[string]any{"id": "", "name": "n"}, []string{"id"}},
			"both":      {map[string]any{"id": "a/b", "name": ""}, []string{"id", "name"}},
			// Two tenants would share one {scopegate.tenant_uuid}, Bits'
			// customer id: an upper-case copy of random's id, and the
			// UUIDv5 derived for "default".
			"UUID in capitals": {map[string]any{"id": strings.ToUpper(random.ID), "name": "n"}, []string{"id"}},
			"default's UUID":   {map[string]any{"id": store.TenantUUID(store.DefaultTenantID), "name": "n"}, []string{"id"}},
		} {
			p := problemOf(t, e.do("POST", "/tenants", e.super, tc.body), http.StatusBadRequest)
			if got := fields(p); !slices.Equal(got, tc.want) {
				t.Errorf("%s: fields %v, want %v", name, got, tc.want)
			}
		}

		// A UUID of another version, in lower case, names itself.
		chosen := "0b9e3a52-7c1d-4f3e-9a0b-2f4c6d8e0a1b"
		e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": chosen, "name": "Chosen"}), http.StatusCreated)
		if store.TenantUUID(chosen) != chosen {
			t.Fatalf("TenantUUID(%s) = %s", chosen, store.TenantUUID(chosen))
		}

		// Rows made before the check: an upper-case UUID id and another
		// tenant's derived UUID. The tenants they would share a UUID with
		// are refused (409 naming the UUID); the rows are left as they are.
		upper := strings.ToUpper(store.NewID())
		for _, id := range []string{upper, store.TenantUUID("initech")} {
			if err := e.app.Store().DB.Create(&store.Tenant{ID: id, Name: "old " + id}).Error; err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{strings.ToLower(upper), "initech"} {
			p := problemOf(t, e.do("POST", "/tenants", e.super, map[string]any{"id": id, "name": "new " + id}), http.StatusConflict)
			if !strings.Contains(p.Detail, store.TenantUUID(id)) {
				t.Errorf("tenant %s: the conflict does not name the UUID: %q", id, p.Detail)
			}
		}

		all := decode[list[tenantView]](t, e.want(e.do("GET", "/tenants", e.super, nil), http.StatusOK))
		if all.Total != 7 || all.Items[0].ID != store.DefaultTenantID { // default, acme, Globex, delta, Chosen and the two old rows
			t.Fatalf("tenants = %+v", all)
		}
		if got := decode[tenantView](t, e.want(e.do("GET", "/tenants/acme", e.super, nil), http.StatusOK)); got.Name != "Acme Corp" {
			t.Fatalf("get = %+v", got)
		}
		problemOf(t, e.do("GET", "/tenants/nope", e.super, nil), http.StatusNotFound)
	})
}

// A tenant admin of acme sees and changes only acme: globex's clients,
// users and tenant are 404 for every route (read, patch, delete, secret,
// rotate, disable, restore), listings show acme only and refuse another
// tenant's filter, it cannot create in globex, create tenants or rotate
// keys, and globex's rows are untouched afterwards.
func TestTenantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		e.tenant("globex")
		ta, _ := e.adminToken("acme", scope.TenantAdmin)

		theirs := e.create(e.super, map[string]any{"name": "theirs", "tenant_id": "globex", "scopes": []string{"demo.read"}})
		theirUser := e.user("globex", "gina")
		mine := e.create(ta, map[string]any{"name": "mine", "scopes": []string{"demo.read"}})
		if mine.TenantID != "acme" {
			t.Fatalf("a tenant admin's client landed in %q", mine.TenantID)
		}
		myUser := decode[userView](t, e.want(e.do("POST", "/users", ta, map[string]any{"username": "al"}), http.StatusCreated))
		if myUser.TenantID != "acme" {
			t.Fatalf("a tenant admin's user landed in %q", myUser.TenantID)
		}

		c := "/clients/" + theirs.ClientID
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", c, nil},
			{"PATCH", c, map[string]any{"name": "pwned"}},
			{"DELETE", c, nil},
			{"GET", c + "/secret", nil},
			{"POST", c + "/rotate", nil},
			{"POST", c + "/disable", nil},
			{"POST", c + "/restore", nil},
			{"GET", "/users/" + theirUser.ID, nil},
			{"PATCH", "/users/" + theirUser.ID, map[string]any{"disabled": true}},
			{"GET", "/tenants/globex", nil},
		} {
			p := problemOf(t, e.do(req.method, req.path, ta, req.body), http.StatusNotFound)
			if p.Detail != "no such client" && p.Detail != "no such user" && p.Detail != "no such tenant" {
				t.Errorf("%s %s: detail %q", req.method, req.path, p.Detail)
			}
		}
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/clients?tenant_id=globex", nil},
			{"GET", "/users?tenant_id=globex", nil},
			{"GET", "/audit?tenant_id=globex", nil},
			{"POST", "/clients", map[string]any{"name": "x", "tenant_id": "globex", "scopes": []string{"demo.read"}}},
			{"POST", "/users", map[string]any{"username": "x", "tenant_id": "globex"}},
			{"PATCH", "/clients/" + mine.ClientID, map[string]any{"tenant_id": "globex"}},
			{"POST", "/tenants", map[string]any{"name": "mine now"}},
			{"POST", "/keys/rotate", nil},
		} {
			problemOf(t, e.do(req.method, req.path, ta, req.body), http.StatusForbidden)
		}

		clients := decode[list[clientView]](t, e.want(e.do("GET", "/clients", ta, nil), http.StatusOK))
		users := decode[list[userView]](t, e.want(e.do("GET", "/users?tenant_id=acme", ta, nil), http.StatusOK))
		tenants := decode[list[tenantView]](t, e.want(e.do("GET", "/tenants", ta, nil), http.StatusOK))
		audit := decode[list[auditView]](t, e.want(e.do("GET", "/audit", ta, nil), http.StatusOK))
		for _, v := range clients.Items {
			if v.TenantID != "acme" {
				t.Errorf("tenant admin lists client %+v", v)
			}
		}
		if clients.Total != 2 || users.Total != 1 || users.Items[0].ID != myUser.ID ||
			tenants.Total != 1 || tenants.Items[0].ID != "acme" || audit.Total == 0 {
			t.Fatalf("tenant admin listings: clients %d, users %+v, tenants %+v, audit %d", clients.Total, users.Items, tenants.Items, audit.Total)
		}
		for _, a := range audit.Items {
			if a.TenantID != "acme" {
				t.Errorf("tenant admin sees audit entry %+v", a)
			}
		}
		e.want(e.do("GET", "/tenants/acme", ta, nil), http.StatusOK)

		got, err := e.app.Store().GetClient(ctx, theirs.ClientID)
		if err != nil || got.Name != "theirs" || got.Disabled || got.TenantID != "globex" {
			t.Fatalf("globex's client after the attempts: %+v, %v", got, err)
		}
		if _, err := e.app.AuthenticateClient(ctx, theirs.ClientID, theirs.ClientSecret); err != nil {
			t.Fatalf("globex's secret was changed: %v", err)
		}
		if u, _ := e.app.Store().GetUser(ctx, theirUser.ID); u.Disabled {
			t.Fatal("globex's user was disabled")
		}
	})
}

// A tenant admin cannot grant scopegate.admin (on create or patch) nor
// manage a client of its own tenant that holds it (rotating its secret
// would hand over every tenant); it can still read that client, but not
// even the masked secret (403).
func TestTenantAdminCannotGrantAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		ta, _ := e.adminToken("acme", scope.TenantAdmin)

		p := problemOf(t, e.do("POST", "/clients", ta, map[string]any{"name": "x", "scopes": []string{scope.Admin}}), http.StatusForbidden)
		if p.Detail == "" {
			t.Fatal("no reason given")
		}
		mine := e.create(ta, map[string]any{"name": "mine", "scopes": []string{"demo.read"}})
		problemOf(t, e.do("PATCH", "/clients/"+mine.ClientID, ta, map[string]any{"scopes": []string{"demo.read", scope.Admin}}), http.StatusForbidden)
		// A tenant admin may hand out its own level.
		e.want(e.do("PATCH", "/clients/"+mine.ClientID, ta, map[string]any{"scopes": []string{scope.TenantAdmin}, "default_scopes": []string{}}), http.StatusOK)

		boss := e.create(e.super, map[string]any{"name": "boss", "tenant_id": "acme", "scopes": []string{scope.Admin}})
		b := "/clients/" + boss.ClientID
		for _, req := range []struct{ method, path string }{
			{"PATCH", b}, {"DELETE", b}, {"POST", b + "/rotate"}, {"POST", b + "/disable"}, {"POST", b + "/restore"},
		} {
			var body any
			if req.method == "PATCH" {
				body = map[string]any{"name": "mine"}
			}
			problemOf(t, e.do(req.method, req.path, ta, body), http.StatusForbidden)
		}
		e.want(e.do("GET", b, ta, nil), http.StatusOK)
		if w := e.do("GET", b+"/secret", ta, nil); strings.Contains(w.Body.String(), boss.ClientSecret) {
			t.Fatal("a tenant admin read a super admin client's secret")
		} else {
			problemOf(t, w, http.StatusForbidden)
		}
		if _, err := e.app.AuthenticateClient(context.Background(), boss.ClientID, boss.ClientSecret); err != nil {
			t.Fatalf("the super admin client's secret changed: %v", err)
		}
	})
}

// A super admin moving a client to another tenant is audited in both: the
// tenant it leaves gets client.move naming where it went, the one it joins
// client.update, each readable by that tenant's own admin.
func TestClientMoveAuditedInBothTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		e.tenant("globex")
		acme, _ := e.adminToken("acme", scope.TenantAdmin)
		globex, _ := e.adminToken("globex", scope.TenantAdmin)
		cl := e.create(e.super, map[string]any{"name": "mover", "scopes": []string{"demo.read"}, "tenant_id": "acme"})
		e.want(e.do("PATCH", "/clients/"+cl.ClientID, e.super, map[string]any{"tenant_id": "globex"}), http.StatusOK)
		has := func(tok, action, detail string) bool {
			for _, a := range decode[list[auditView]](t, e.want(e.do("GET", "/audit", tok, nil), http.StatusOK)).Items {
				if a.Action == action && a.Target == cl.ClientID && strings.Contains(a.Detail, detail) {
					return true
				}
			}
			return false
		}
		if !has(acme, "client.move", "globex") {
			t.Error("the tenant the client left has no client.move entry naming where it went")
		}
		if !has(globex, "client.update", "mover") {
			t.Error("the tenant the client joined has no client.update entry")
		}
		if has(globex, "client.move", "") {
			t.Error("the joining tenant got the leaving tenant's entry")
		}
	})
}

// A tenant's name is stored in NFC, and one that reads as another tenant's
// name (letter case, Unicode form) is 409: people type names at the
// console's sign-in, and four tenants "Café", "Cafe\u0301", "cafe\u0301",
// "café" could all be created (inputs red team). The sign-in's look-up
// finds the name however it is typed; a name merely near another passes.
func TestTenantNamesAlikeRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		cafe := decode[tenantView](t, e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "bd7", "name": "Cafe\u0301"}), http.StatusCreated))
		if cafe.Name != "Café" {
			t.Fatalf("name stored as %q, want NFC %q", cafe.Name, "Café")
		}
		e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "acme", "name": "Acme"}), http.StatusCreated)
		for _, name := range []string{"Café", "café", "cafe\u0301", "CAFÉ", "ACME", "acme ", "DEFAULT"} {
			p := problemOf(t, e.do("POST", "/tenants", e.super, map[string]any{"id": "x1", "name": name}), http.StatusConflict)
			if !strings.Contains(p.Detail, "sign-in") && !strings.Contains(p.Detail, "already exists") {
				t.Errorf("name %q: %q does not say why", name, p.Detail)
			}
		}
		e.want(e.do("GET", "/tenants/x1", e.super, nil), http.StatusNotFound)
		for _, name := range []string{"Cafe", "Acme Inc"} {
			e.want(e.do("POST", "/tenants", e.super, map[string]any{"name": name}), http.StatusCreated)
		}
		for _, typed := range []string{"Café", "Cafe\u0301"} {
			if id, err := e.app.Store().TenantIDFor(context.Background(), typed); err != nil || id != "bd7" {
				t.Errorf("sign-in typed %q: tenant %q, %v; want bd7", typed, id, err)
			}
		}
		// A name reading as another tenant's id, or an id as another's
		// name, in other case: the sign-in takes either (review).
		e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "globex", "name": "Globex Corp"}), http.StatusCreated)
		e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "t-hooli", "name": "Hooli"}), http.StatusCreated)
		for _, body := range []map[string]any{{"id": "x3", "name": "GLOBEX"}, {"id": "x4", "name": "\u212Aelvin"}, {"id": "HOOLI", "name": "x5"}} {
			if body["name"] == "\u212Aelvin" {
				e.want(e.do("POST", "/tenants", e.super, map[string]any{"id": "kelvin", "name": "Kelvin Ltd"}), http.StatusCreated)
			}
			if p := problemOf(t, e.do("POST", "/tenants", e.super, body), http.StatusConflict); !strings.Contains(p.Detail, "sign-in") {
				t.Errorf("POST /tenants %v: %q does not say why", body, p.Detail)
			}
		}
		// A name an older release stored decomposed is still found as typed.
		if err := e.app.Store().EnsureTenant(context.Background(), "old1", "Cre\u0300me"); err != nil {
			t.Fatal(err)
		}
		if id, err := e.app.Store().TenantIDFor(context.Background(), "Cre\u0300me"); err != nil || id != "old1" {
			t.Errorf("an older decomposed name typed as stored: tenant %q, %v; want old1", id, err)
		}
	})
}
