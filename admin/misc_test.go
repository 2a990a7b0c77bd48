package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// GET /scopes shows the whole catalogue, built-ins first, with legs as
// "2", "3" or "any" and implications and required claims as lists; tenant
// admins may read it too.
func TestScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ta, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		for _, tok := range []string{e.super, ta} {
			got := decode[struct {
				Items []scopeView `json:"items"`
				Total int         `json:"total"`
			}](t, e.want(e.do("GET", "/scopes", tok, nil), http.StatusOK))
			if n := len(scope.BuiltIn()) + 4; got.Total != n || len(got.Items) != n || got.Items[0].Name != scope.Admin || got.Items[1].Name != scope.TenantAdmin {
				t.Fatalf("catalogue = %+v", got)
			}
			by := map[string]scopeView{}
			for _, s := range got.Items {
				by[s.Name] = s
			}
			if w := by["demo.write"]; w.Legs != "any" || !slices.Equal(w.Implies, []string{"demo.read"}) || w.Description != "Change demo data" || w.RequiredClaims == nil {
				t.Fatalf("demo.write = %+v", w)
			}
			if by["user.only"].Legs != "3" || by["global"].Legs != "2" || by["demo.read"].Implies == nil {
				t.Fatalf("legs or lists wrong: %+v", by)
			}
		}
	})
}

// Changes made through the API leave audit rows written by the store in
// the same transaction, naming the acting principal, the target's tenant
// and the caller's IP; GET /audit lists them newest first, page by page,
// and a super admin can filter by tenant.
func TestAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		created := e.create(e.super, map[string]any{"name": "audited", "tenant_id": "acme", "scopes": []string{"demo.read"}})
		e.want(e.do("POST", "/clients/"+created.ClientID+"/disable", e.super, nil), http.StatusOK)

		entries, _, err := e.app.Store().ListAudit(context.Background(), "acme", store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("audit rows = %+v", entries)
		}
		for _, a := range entries {
			if a.Actor != e.superID || a.TenantID != "acme" || a.RemoteAddr != remoteIP || a.Target != created.ClientID {
				t.Fatalf("audit row %+v", a)
			}
		}

		page := decode[list[auditView]](t, e.want(e.do("GET", "/audit?tenant_id=acme&limit=1", e.super, nil), http.StatusOK))
		if page.Total != 2 || len(page.Items) != 1 || page.Items[0].Action != "client.disable" || page.Items[0].RemoteAddr != remoteIP {
			t.Fatalf("audit page 1 = %+v", page)
		}
		page2 := decode[list[auditView]](t, e.want(e.do("GET", "/audit?tenant_id=acme&limit=1&offset=1", e.super, nil), http.StatusOK))
		if len(page2.Items) != 1 || page2.Items[0].Action != "client.create" || page2.Items[0].Detail != "audited" ||
			page2.Items[0].At.After(page.Items[0].At) {
			t.Fatalf("audit page 2 = %+v", page2)
		}
		all := decode[list[auditView]](t, e.want(e.do("GET", "/audit", e.super, nil), http.StatusOK))
		if all.Total <= 2 {
			t.Fatalf("unfiltered audit has %d rows; the setup's are missing", all.Total)
		}
	})
}

// Only super admins rotate the signing keys. A rotation pre-publishes: the
// answer names the new key as pending with its activation key_prepublish
// away, the old key keeps signing meanwhile, and the rotation is audited with
// no tenant. A second rotation while the key is pending is a 409 problem
// naming it; an emergency one signs at once and tokens of the old key keep
// verifying.
func TestKeysRotate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		old := e.app.Keys().SigningKID()
		before := time.Now()
		got := decode[keyView](t, e.want(e.do("POST", "/keys/rotate", e.super, nil), http.StatusOK))
		prepublish := time.Duration(e.app.KeyPrepublish)
		if got.KID == "" || got.KID == old || got.State != token.KeyPending || got.ActivatesAt.Before(before.Add(prepublish)) ||
			got.ActivatesAt.After(time.Now().Add(prepublish)) || e.app.Keys().SigningKID() != old {
			t.Fatalf("rotate answered %+v (old %q, signing %q)", got, old, e.app.Keys().SigningKID())
		}
		entries, _, _ := e.app.Store().ListAudit(ctx, "", store.Page{Limit: 1})
		if len(entries) != 1 || entries[0].Action != "keys.rotate" || entries[0].Target != got.KID ||
			entries[0].Actor != e.superID || entries[0].TenantID != "" {
			t.Fatalf("audit = %+v", entries)
		}

		p := problemOf(t, e.do("POST", "/keys/rotate", e.super, map[string]any{}), http.StatusConflict)
		if !strings.Contains(p.Detail, got.KID) || !strings.Contains(p.Detail, got.ActivatesAt.UTC().Format(time.RFC3339)) {
			t.Fatalf("409 detail %q does not name the pending key and its activation", p.Detail)
		}

		urgent := decode[keyView](t, e.want(e.do("POST", "/keys/rotate", e.super, map[string]any{"emergency": true}), http.StatusOK))
		if urgent.State != token.KeySigning || urgent.KID == got.KID || e.app.Keys().SigningKID() != urgent.KID {
			t.Fatalf("emergency rotation answered %+v; signing %q", urgent, e.app.Keys().SigningKID())
		}
		if _, err := e.app.Verify(ctx, e.super); err != nil {
			t.Fatalf("a token signed with the old key no longer verifies: %v", err)
		}
		e.want(e.do("GET", "/scopes", e.super, nil), http.StatusOK) // and through the API

		ta, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		problemOf(t, e.do("POST", "/keys/rotate", ta, map[string]any{"emergency": true}), http.StatusForbidden)
		if e.app.Keys().SigningKID() != urgent.KID {
			t.Fatal("a refused rotation changed the signing key")
		}
	})
}
