package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A client goes through its whole life over the API: created with its
// secret shown once and defaults filled in; read; listed page by page;
// patched; its secret revealed to its owner and masked for another admin;
// rotated with a grace period (the old secret still authenticates) and then
// without one (it no longer does); disabled (its tokens stop verifying at
// once with ErrClientDisabled) and restored; and deleted.
func TestClientLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		connect := e.user("acme", "robot")

		created := e.create(e.super, map[string]any{
			"name": "reports", "tenant_id": "acme", "scopes": []string{"demo.read", "demo.write", "demo.read"},
			"redirect_uris": []string{"https://app.example/cb", oob}, "token_lifetime_minutes": 30,
			"max_minutes_per_day": 120, "connect_as_user_id": connect.ID, "allow_impersonation": true,
			"allow_user_tokens": true,
		})
		if !strings.HasPrefix(created.ClientID, "sg_") || created.ClientSecret == masked || created.ClientSecret == "" {
			t.Fatalf("create: id %q secret %q", created.ClientID, created.ClientSecret)
		}
		if created.TenantID != "acme" || created.AuthMethod != store.AuthAPIKey || created.Status != "active" ||
			!slices.Equal(created.Scopes, []string{"demo.read", "demo.write"}) ||
			!slices.Equal(created.DefaultScopes, created.Scopes) || created.Owner != e.superID ||
			created.ConnectAsUserID == nil || *created.ConnectAsUserID != connect.ID || !created.AllowImpersonation ||
			!created.AllowUserTokens || created.TokenLifetimeMinutes != 30 || created.MaxMinutesPerDay != 120 ||
			len(created.RedirectURIs) != 2 || created.CreatedAt.IsZero() {
			t.Fatalf("create answered %+v", created)
		}
		if _, err := e.app.AuthenticateClient(ctx, created.ClientID, created.ClientSecret); err != nil {
			t.Fatalf("the secret shown at creation does not authenticate: %v", err)
		}
		id := created.ClientID
		path := "/clients/" + id

		got := decode[clientView](t, e.want(e.do("GET", path, e.super, nil), http.StatusOK))
		if got.ClientSecret != masked || got.Name != "reports" || got.ClientID != id {
			t.Fatalf("get answered %+v", got)
		}

		for i := range 3 {
			e.create(e.super, map[string]any{"name": fmt.Sprintf("extra-%d", i), "tenant_id": "acme", "scopes": []string{"demo.read"}})
		}
		page1 := decode[list[clientView]](t, e.want(e.do("GET", "/clients?tenant_id=acme&limit=3", e.super, nil), http.StatusOK))
		page2 := decode[list[clientView]](t, e.want(e.do("GET", "/clients?tenant_id=acme&limit=3&offset=3", e.super, nil), http.StatusOK))
		if page1.Total != 4 || len(page1.Items) != 3 || page1.Limit != 3 || page1.Offset != 0 ||
			page2.Total != 4 || len(page2.Items) != 1 || page2.Offset != 3 || page1.Items[0].ClientID != id {
			t.Fatalf("pages: %+v / %+v", page1, page2)
		}
		for _, c := range append(page1.Items, page2.Items...) {
			if c.TenantID != "acme" || c.ClientSecret != masked {
				t.Fatalf("listed %+v", c)
			}
		}
		all := decode[list[clientView]](t, e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK))
		if all.Total != 5 || all.Limit != defaultLimit { // the four above and the super admin's own
			t.Fatalf("unfiltered list: total %d limit %d", all.Total, all.Limit)
		}

		patched := decode[clientView](t, e.want(e.do("PATCH", path, e.super, map[string]any{
			"name": "reports-v2", "default_scopes": []string{"demo.read"}, "token_lifetime_minutes": 0,
		}), http.StatusOK))
		if patched.Name != "reports-v2" || !slices.Equal(patched.DefaultScopes, []string{"demo.read"}) ||
			patched.TokenLifetimeMinutes != 0 || patched.MaxMinutesPerDay != 120 || !patched.UpdatedAt.After(created.UpdatedAt) ||
			patched.ConnectAsUserID == nil || patched.Owner != e.superID {
			t.Fatalf("patch answered %+v", patched)
		}
		if stored, _ := e.app.Store().GetClient(ctx, id); stored.Name != "reports-v2" {
			t.Fatalf("patch not stored: %+v", stored)
		}
		if _, err := e.app.AuthenticateClient(ctx, id, created.ClientSecret); err != nil {
			t.Fatalf("patch changed the secret: %v", err)
		}

		owner := decode[secretView](t, e.want(e.do("GET", path+"/secret", e.super, nil), http.StatusOK))
		if owner.ClientSecret != created.ClientSecret || owner.Masked || owner.ClientID != id {
			t.Fatalf("owner sees %+v", owner)
		}
		otherAdmin, _ := e.adminToken(store.DefaultTenantID, scope.Admin)
		other := decode[secretView](t, e.want(e.do("GET", path+"/secret", otherAdmin, nil), http.StatusOK))
		if other.ClientSecret != masked || !other.Masked {
			t.Fatalf("non-owner sees %+v", other)
		}

		before := time.Now()
		rot := decode[rotateView](t, e.want(e.do("POST", path+"/rotate", e.super, nil), http.StatusOK))
		if rot.ClientSecret == created.ClientSecret || rot.ClientID != id || rot.PreviousSecretValidUntil == nil ||
			rot.PreviousSecretValidUntil.Before(before.Add(time.Duration(e.app.SecretGrace)-time.Minute)) {
			t.Fatalf("rotate answered %+v", rot)
		}
		if _, err := e.app.AuthenticateClient(ctx, id, created.ClientSecret); err != nil {
			t.Fatalf("old secret refused during its grace period: %v", err)
		}
		if _, err := e.app.AuthenticateClient(ctx, id, rot.ClientSecret); err != nil {
			t.Fatalf("new secret refused: %v", err)
		}
		if shown := decode[secretView](t, e.do("GET", path+"/secret", e.super, nil)); shown.ClientSecret != rot.ClientSecret {
			t.Fatal("the owner is not shown the rotated secret")
		}

		rot2 := decode[rotateView](t, e.want(e.do("POST", path+"/rotate", e.super, map[string]any{"grace_seconds": 0}), http.StatusOK))
		if rot2.PreviousSecretValidUntil != nil {
			t.Fatalf("grace 0 still has a grace period: %+v", rot2)
		}
		for _, old := range []string{created.ClientSecret, rot.ClientSecret} {
			if _, err := e.app.AuthenticateClient(ctx, id, old); !errors.Is(err, app.ErrBadCredentials) {
				t.Fatalf("an old secret still authenticates after a rotation without grace: %v", err)
			}
		}
		if _, err := e.app.AuthenticateClient(ctx, id, rot2.ClientSecret); err != nil {
			t.Fatalf("newest secret refused: %v", err)
		}

		tok := e.sign(id, "acme", connect.ID, "demo.read") // it connects as robot: its tokens are robot's
		if _, err := e.app.Verify(ctx, tok); err != nil {
			t.Fatalf("token of the active client: %v", err)
		}
		disabled := decode[clientView](t, e.want(e.do("POST", path+"/disable", e.super, nil), http.StatusOK))
		if disabled.Status != "disabled" {
			t.Fatalf("disable answered %+v", disabled)
		}
		if _, err := e.app.Verify(ctx, tok); !errors.Is(err, app.ErrClientDisabled) {
			t.Fatalf("token of the disabled client: err = %v, want ErrClientDisabled", err)
		}
		restored := decode[clientView](t, e.want(e.do("POST", path+"/restore", e.super, nil), http.StatusOK))
		if restored.Status != "active" {
			t.Fatalf("restore answered %+v", restored)
		}
		if _, err := e.app.Verify(ctx, tok); err != nil {
			t.Fatalf("token of the restored client: %v", err)
		}

		w := e.want(e.do("DELETE", path, e.super, nil), http.StatusNoContent)
		if w.Body.Len() != 0 {
			t.Fatalf("204 with a body: %q", w.Body.String())
		}
		if _, err := e.app.Verify(ctx, tok); !errors.Is(err, app.ErrClientGone) {
			t.Fatalf("token of the deleted client: err = %v, want ErrClientGone", err)
		}
		problemOf(t, e.do("GET", path, e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("DELETE", path, e.super, nil), http.StatusNotFound)

		var actions []string
		entries, _, _ := e.app.Store().ListAudit(ctx, "acme", store.Page{Limit: 100})
		for _, a := range entries {
			if a.Target == id {
				actions = append(actions, a.Action)
			}
		}
		want := []string{"client.delete", "client.restore", "client.disable", "client.rotate", "client.secret.reveal",
			"client.rotate", "client.secret.reveal", "client.update", "client.create"}
		if !slices.Equal(actions, want) {
			t.Fatalf("audit trail of the client = %v, want %v", actions, want)
		}
	})
}

// A duplicate client name in one tenant is 409 on create and on rename;
// the same name in another tenant is fine.
func TestClientConflict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		e.create(e.super, map[string]any{"name": "dup", "scopes": []string{"demo.read"}})
		problemOf(t, e.do("POST", "/clients", e.super, map[string]any{"name": "dup", "scopes": []string{"demo.read"}}), http.StatusConflict)
		e.create(e.super, map[string]any{"name": "dup", "tenant_id": "acme", "scopes": []string{"demo.read"}})
		other := e.create(e.super, map[string]any{"name": "other", "scopes": []string{"demo.read"}})
		problemOf(t, e.do("PATCH", "/clients/"+other.ClientID, e.super, map[string]any{"name": "dup"}), http.StatusConflict)
		if got := decode[clientView](t, e.do("GET", "/clients/"+other.ClientID, e.super, nil)); got.Name != "other" {
			t.Fatalf("a refused rename changed the name to %q", got.Name)
		}
	})
}

// An admin cannot disable or delete the client its own token belongs to,
// which would lock it out; another admin can.
func TestClientCannotLockItselfOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		problemOf(t, e.do("POST", "/clients/"+e.superID+"/disable", e.super, nil), http.StatusConflict)
		problemOf(t, e.do("DELETE", "/clients/"+e.superID, e.super, nil), http.StatusConflict)
		e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK)
		second, _ := e.adminToken(store.DefaultTenantID, scope.Admin)
		e.want(e.do("POST", "/clients/"+e.superID+"/disable", second, nil), http.StatusOK)
	})
}

// POST /clients/ensure creates the client on first use (201 with the
// secret, like POST /clients) and afterwards answers 200 with the existing
// client, secret masked and the body's settings not applied; the name is
// per tenant; bodies are validated like POST /clients even when the client
// exists; concurrent ensures create exactly one client.
func TestEnsureClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		ta, _ := e.adminToken("acme", scope.TenantAdmin)
		body := map[string]any{"name": "studio", "scopes": []string{"demo.read", "demo.write"}}

		w := e.want(e.do("POST", "/clients/ensure", e.super, body), http.StatusCreated)
		first := decode[clientView](t, w)
		if first.ClientSecret == masked || first.ClientSecret == "" || first.Name != "studio" || first.TenantID != store.DefaultTenantID ||
			!slices.Equal(first.Scopes, []string{"demo.read", "demo.write"}) || w.Header().Get("Location") != first.ClientID {
			t.Fatalf("first ensure: %+v (Location %q)", first, w.Header().Get("Location"))
		}
		if _, err := e.app.AuthenticateClient(ctx, first.ClientID, first.ClientSecret); err != nil {
			t.Fatalf("the secret shown by ensure: %v", err)
		}
		again := decode[clientView](t, e.want(e.do("POST", "/clients/ensure", e.super, map[string]any{
			"name": " studio ", "scopes": []string{"demo.read"},
		}), http.StatusOK))
		if again.ClientID != first.ClientID || again.ClientSecret != masked || !slices.Equal(again.Scopes, first.Scopes) {
			t.Fatalf("second ensure: %+v", again)
		}
		p := problemOf(t, e.do("POST", "/clients/ensure", e.super, map[string]any{"name": "studio", "scopes": []string{"nope"}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scopes"}) {
			t.Fatalf("invalid ensure: %v", fields(p))
		}

		mine := decode[clientView](t, e.want(e.do("POST", "/clients/ensure", ta, body), http.StatusCreated))
		if mine.TenantID != "acme" || mine.ClientID == first.ClientID {
			t.Fatalf("acme's studio: %+v", mine)
		}
		problemOf(t, e.do("POST", "/clients/ensure", ta, map[string]any{"name": "studio", "scopes": []string{"demo.read"}, "tenant_id": store.DefaultTenantID}), http.StatusForbidden)

		const n = 8
		codes := make(chan int, n)
		ids := make(chan string, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				w := e.do("POST", "/clients/ensure", e.super, map[string]any{"name": "batch-import", "scopes": []string{"demo.read"}})
				codes <- w.Code
				var v clientView
				_ = json.Unmarshal(w.Body.Bytes(), &v)
				ids <- v.ClientID
			})
		}
		wg.Wait()
		close(codes)
		close(ids)
		created, seen := 0, map[string]bool{}
		for c := range codes {
			if c == http.StatusCreated {
				created++
			} else if c != http.StatusOK {
				t.Fatalf("concurrent ensure answered %d", c)
			}
		}
		for id := range ids {
			seen[id] = true
		}
		if created != 1 || len(seen) != 1 {
			t.Fatalf("concurrent ensures: %d created, ids %v", created, seen)
		}
		rows, _, _ := e.app.Store().ListClients(ctx, store.ClientFilter{TenantID: store.DefaultTenantID})
		count := 0
		for _, c := range rows {
			if c.Name == "studio" || c.Name == "batch-import" {
				count++
			}
		}
		if count != 2 {
			t.Fatalf("%d studio and batch-import clients in the default tenant, want 2", count)
		}
	})
}
