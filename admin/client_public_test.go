package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// public is off for new clients, can be set on create or by PATCH for
// auth_method user clients and is stored as the client's Public; an
// api_key client cannot be public (400 naming public), on create or by
// PATCH, because client_credentials needs a secret.
func TestClientPublic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		conf := e.create(e.super, map[string]any{"name": "web", "auth_method": "user", "scopes": []string{"demo.read"}})
		if conf.Public {
			t.Fatal("a new client is public by default")
		}
		spa := e.create(e.super, map[string]any{"name": "spa", "auth_method": "user", "public": true, "scopes": []string{"demo.read"}})
		if !spa.Public {
			t.Fatal("public true on create was ignored")
		}
		if c, _ := e.app.Store().GetClient(ctx, spa.ClientID); !c.Public {
			t.Fatal("Public not stored")
		}
		got := decode[clientView](t, e.want(e.do("PATCH", "/clients/"+conf.ClientID, e.super, map[string]any{"public": true}), http.StatusOK))
		if c, _ := e.app.Store().GetClient(ctx, conf.ClientID); !got.Public || !c.Public {
			t.Fatalf("PATCH public true: view %v, stored %v", got.Public, c.Public)
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+conf.ClientID, e.super, map[string]any{"public": false}), http.StatusOK))
		if c, _ := e.app.Store().GetClient(ctx, conf.ClientID); got.Public || c.Public {
			t.Fatalf("PATCH public false: view %v, stored %v", got.Public, c.Public)
		}

		p := problemOf(t, e.do("POST", "/clients", e.super, map[string]any{"name": "svc", "public": true, "scopes": []string{"demo.read"}}), http.StatusBadRequest)
		if !slices.Contains(fields(p), "public") {
			t.Fatalf("api_key public client: fields %v", fields(p))
		}
		svc := e.create(e.super, map[string]any{"name": "svc", "scopes": []string{"demo.read"}})
		p = problemOf(t, e.do("PATCH", "/clients/"+svc.ClientID, e.super, map[string]any{"public": true}), http.StatusBadRequest)
		if !slices.Contains(fields(p), "public") {
			t.Fatalf("PATCH an api_key client public: fields %v", fields(p))
		}
		p = problemOf(t, e.do("PATCH", "/clients/"+spa.ClientID, e.super, map[string]any{"auth_method": "api_key"}), http.StatusBadRequest)
		if !slices.Contains(fields(p), "public") {
			t.Fatalf("PATCH a public client to api_key: fields %v", fields(p))
		}
	})
}
