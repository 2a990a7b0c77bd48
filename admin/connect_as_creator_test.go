package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// With connect_as_creator on, an api_key client an admin user creates (with
// a user-bound admin token) connects as that user when the body names no
// one, and naming another user or nobody ("") is a 400 naming
// connect_as_user_id; naming the creator is fine; a user-auth client gets no
// connect-as user; a PATCH cannot move the key to another user. A key made
// with a client's token, or by a super admin user for another tenant, has
// no creator to be tied to: it must name its user (the usual rules then
// apply), since every key is tied to a user (Imagen). With the option off
// nothing is filled in.
func TestConnectAsCreatorAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		root := e.superUser("root")
		bob := e.user(store.DefaultTenantID, "bob")
		ann := e.user("acme", "ann")
		rootTok, _ := e.userToken(root, scope.Admin)
		key := map[string]any{"name": "off", "scopes": []string{"demo.read"}}
		if off := e.create(rootTok, key); off.ConnectAsUserID != nil {
			t.Fatalf("with the option off the key connects as %v", *off.ConnectAsUserID)
		}

		e.h.ConnectAsCreator = true
		mine := e.create(rootTok, map[string]any{"name": "mine", "scopes": []string{"demo.read"}})
		if mine.ConnectAsUserID == nil || *mine.ConnectAsUserID != root.ID || mine.Owner != root.ID {
			t.Fatalf("root's key: %+v, want it to connect as and belong to root", mine)
		}
		named := e.create(rootTok, map[string]any{"name": "named", "scopes": []string{"demo.read"}, "connect_as_user_id": root.ID})
		if named.ConnectAsUserID == nil || *named.ConnectAsUserID != root.ID {
			t.Fatalf("root naming itself: %+v", named)
		}
		for name, who := range map[string]string{"another user": bob.ID, "nobody": ""} {
			p := problemOf(t, e.do("POST", "/clients", rootTok, map[string]any{"name": "x", "scopes": []string{"demo.read"}, "connect_as_user_id": who}), http.StatusBadRequest)
			if !slices.Equal(fields(p), []string{"connect_as_user_id"}) || !strings.Contains(p.Errors[0].Message, "connect_as_creator") {
				t.Fatalf("%s: %+v", name, p.Errors)
			}
		}
		if u := e.create(rootTok, map[string]any{"name": "browser", "scopes": []string{"demo.read"}, "auth_method": "user"}); u.ConnectAsUserID != nil {
			t.Fatalf("a user-auth client connects as %v", *u.ConnectAsUserID)
		}
		p := problemOf(t, e.do("PATCH", "/clients/"+mine.ClientID, rootTok, map[string]any{"connect_as_user_id": bob.ID}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"connect_as_user_id"}) {
			t.Fatalf("moving the key: %+v", p.Errors)
		}
		e.want(e.do("PATCH", "/clients/"+mine.ClientID, e.super, map[string]any{"connect_as_user_id": ""}), http.StatusBadRequest)
		e.want(e.do("PATCH", "/clients/"+mine.ClientID, rootTok, map[string]any{"name": "mine-v2"}), http.StatusOK)
		if c, _ := e.app.Store().GetClient(context.Background(), mine.ClientID); c.ConnectAsUserID == nil || *c.ConnectAsUserID != root.ID {
			t.Fatalf("after the patches the key connects as %v", c.ConnectAsUserID)
		}

		// A client's token has no user to tie the key to: it names one.
		p = problemOf(t, e.do("POST", "/clients", e.super, map[string]any{"name": "by-client", "scopes": []string{"demo.read"}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"connect_as_user_id"}) || !strings.Contains(p.Errors[0].Message, "is required") {
			t.Fatalf("a key made by a client naming no user: %+v", p.Errors)
		}
		if c := e.create(e.super, map[string]any{"name": "by-client-bob", "scopes": []string{"demo.read"}, "connect_as_user_id": bob.ID}); c.ConnectAsUserID == nil || *c.ConnectAsUserID != bob.ID {
			t.Fatalf("a client's token naming bob: %+v", c)
		}
		// root is no user of acme: its keys there name a user of acme.
		e.want(e.do("POST", "/clients", rootTok, map[string]any{"name": "for-acme", "tenant_id": "acme", "scopes": []string{"demo.read"}}), http.StatusBadRequest)
		if c := e.create(rootTok, map[string]any{"name": "for-ann", "tenant_id": "acme", "scopes": []string{"demo.read"}, "connect_as_user_id": ann.ID}); c.ConnectAsUserID == nil || *c.ConnectAsUserID != ann.ID {
			t.Fatalf("root's key for acme naming ann: %+v", c)
		}
	})
}

// In the console, with connect_as_creator on, the Add application form says
// the key connects as the signed-in admin instead of offering a choice, and
// the key it creates connects as that admin; a post naming another user is
// refused next to the field.
func TestConnectAsCreatorConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.h.ConnectAsCreator = true
		root := e.superUser("root")
		bob := e.user(store.DefaultTenantID, "bob")
		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.get("/console/apps/new"), http.StatusOK, `id="connect_as_creator"`, "connects as you, <strong>root</strong>")
		if strings.Contains(body, `<select id="connect_as_user_id"`) {
			t.Fatal("the form still offers a connect-as choice")
		}
		body = b.page(b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Importer"}, "scopes": {"demo.read"}}),
			http.StatusCreated, "Copy the secret now")
		id := regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1]
		cl, err := e.app.Store().GetClient(context.Background(), id)
		if err != nil || cl.ConnectAsUserID == nil || *cl.ConnectAsUserID != root.ID || cl.OwnerID != root.ID {
			t.Fatalf("the console's key %+v (%v), want it to connect as root", cl, err)
		}
		body = b.page(b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Other"}, "scopes": {"demo.read"}, "connect_as_user_id": {bob.ID}}),
			http.StatusBadRequest)
		if !strings.Contains(fieldErrorOf(body, "connect_as_user_id"), "connect_as_creator") {
			t.Fatalf("error next to connect-as: %q", fieldErrorOf(body, "connect_as_user_id"))
		}
	})
}
