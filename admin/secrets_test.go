package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// auditCount counts the audit rows of action on target.
func (e *env) auditCount(action, target string) int {
	e.t.Helper()
	rows, _, err := e.app.Store().ListAudit(context.Background(), "", store.Page{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, a := range rows {
		if a.Action == action && a.Target == target {
			n++
		}
	}
	return n
}

// A tenant admin reads the secret of a client it created only while the
// client holds no scopegate.admin: once a super admin grants that scope, the
// read is a 403 problem, as rotating already was, and no reveal is audited.
// A HEAD is 405 and audits nothing.
func TestSecretOfClientGrantedAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		ta, _ := e.adminToken("acme", scope.TenantAdmin)
		a := e.create(ta, map[string]any{"name": "a", "scopes": []string{"demo.read"}})
		path := "/clients/" + a.ClientID + "/secret"
		if s := decode[secretView](t, e.want(e.do("GET", path, ta, nil), http.StatusOK)); s.ClientSecret != a.ClientSecret {
			t.Fatalf("the creator reads %+v, want its secret", s)
		}
		reveals := e.auditCount("client.secret.reveal", a.ClientID)
		// HEAD reveals nothing, so it records no reveal either.
		if w := e.do("HEAD", path, ta, nil); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" {
			t.Fatalf("HEAD of the secret: %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
		if n := e.auditCount("client.secret.reveal", a.ClientID); n != reveals {
			t.Fatalf("HEAD audited a reveal: %d, want %d", n, reveals)
		}
		// Every other method's 405 names the same single method.
		for _, m := range []string{"PUT", "OPTIONS", "TRACE", "FOO"} {
			w := e.do(m, path, ta, nil)
			if p := problemOf(t, w, http.StatusMethodNotAllowed); w.Header().Get("Allow") != "GET" || !strings.HasSuffix(p.Detail, "use GET") {
				t.Fatalf("%s of the secret: Allow %q, %q; want GET alone", m, w.Header().Get("Allow"), p.Detail)
			}
		}
		// Routes that take HEAD still list it.
		if w := e.do("PUT", "/clients/"+a.ClientID, ta, nil); !strings.Contains(w.Header().Get("Allow"), "HEAD") {
			t.Fatalf("PUT of a client: Allow %q, want HEAD among them", w.Header().Get("Allow"))
		}

		e.want(e.do("PATCH", "/clients/"+a.ClientID, e.super, map[string]any{"scopes": []string{"demo.read", scope.Admin}}), http.StatusOK)
		w := e.do("GET", path, ta, nil)
		p := problemOf(t, w, http.StatusForbidden)
		if strings.Contains(w.Body.String(), a.ClientSecret) || !strings.Contains(p.Detail, "super admin") {
			t.Fatalf("after the grant the creator gets %s", w.Body.String())
		}
		if n := e.auditCount("client.secret.reveal", a.ClientID); n != reveals {
			t.Fatalf("%d reveals audited after the refused read, want %d", n, reveals)
		}
	})
}

// Rotating hands over a working secret, so only the client's creator or a
// super admin may do it: another tenant admin of the same tenant gets a 403
// problem that says so and the secret is unchanged (and no rotation is
// audited); the creator and a super admin who is not the creator rotate.
// The console offers rotation only to those two and shows the refusal.
func TestRotateOwnerOrSuper(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		ta, _ := e.adminToken("acme", scope.TenantAdmin)
		other, _ := e.adminToken("acme", scope.TenantAdmin)
		b := e.create(ta, map[string]any{"name": "b", "scopes": []string{"demo.read"}})
		path := "/clients/" + b.ClientID + "/rotate"

		w := e.do("POST", path, other, nil)
		p := problemOf(t, w, http.StatusForbidden)
		if !strings.Contains(p.Detail, "created") || !strings.Contains(p.Detail, "super admin") || strings.Contains(w.Body.String(), "client_secret") {
			t.Fatalf("another tenant admin's rotation: %s", w.Body.String())
		}
		if _, err := e.app.AuthenticateClient(ctx, b.ClientID, b.ClientSecret); err != nil {
			t.Fatalf("a refused rotation changed the secret: %v", err)
		}
		if n := e.auditCount("client.rotate", b.ClientID); n != 0 {
			t.Fatalf("%d rotations audited after a refused one", n)
		}

		mine := decode[rotateView](t, e.want(e.do("POST", path, ta, map[string]any{"grace_seconds": 0}), http.StatusOK))
		if _, err := e.app.AuthenticateClient(ctx, b.ClientID, mine.ClientSecret); err != nil {
			t.Fatalf("the creator's rotation: %v", err)
		}
		supers := decode[rotateView](t, e.want(e.do("POST", path, e.super, map[string]any{"grace_seconds": 0}), http.StatusOK))
		if _, err := e.app.AuthenticateClient(ctx, b.ClientID, supers.ClientSecret); err != nil {
			t.Fatalf("the super admin's rotation: %v", err)
		}

		e.adminUser("acme", "boss")
		br := e.browser()
		br.signIn("acme", "boss")
		if strings.Contains(br.page(br.get("/console/apps/"+b.ClientID), http.StatusOK), "Rotate secret") {
			t.Fatal("the console offers rotation to a tenant admin who did not create the app")
		}
		br.page(br.post("/console/apps/"+b.ClientID+"/rotate", nil), http.StatusForbidden, "super admin")
		e.superUser("root")
		sr := e.browser()
		sr.signIn("", "root")
		sr.page(sr.get("/console/apps/"+b.ClientID), http.StatusOK, "Rotate secret")
	})
}
