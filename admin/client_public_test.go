package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// public is off for new clients, can be set on create or by PATCH for
// auth_method user clients and is stored as the client's Public; an
// api_key client cannot be public (400 naming public), on create or by
// PATCH, because client_credentials needs a secret. A public client has no
// secret: none is shown on create or in its view, and revealing or rotating
// one is 409; made public, a client loses its secret, and made confidential
// again it has none (the old one fails, reveal is 409) until a rotation.
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
		// A public client has no secret to use: none is made or shown,
		// revealed or rotated (409).
		if c, _ := e.app.Store().GetClient(ctx, spa.ClientID); spa.ClientSecret != "" || c.SecretDigest != "" || len(c.SecretCiphertext) != 0 {
			t.Fatalf("a public client was given a secret: shown %q, digest %q", spa.ClientSecret, c.SecretDigest)
		}
		if v := decode[clientView](t, e.want(e.do("GET", "/clients/"+spa.ClientID, e.super, nil), http.StatusOK)); v.ClientSecret != "" {
			t.Fatalf("a public client's view shows secret %q", v.ClientSecret)
		}
		for _, op := range [][2]string{{"GET", "/secret"}, {"POST", "/rotate"}} {
			p := problemOf(t, e.do(op[0], "/clients/"+spa.ClientID+op[1], e.super, nil), http.StatusConflict)
			if !strings.Contains(p.Detail, "public client has no secret") {
				t.Fatalf("%s %s of a public client: %q", op[0], op[1], p.Detail)
			}
		}
		confSecret := conf.ClientSecret
		if _, err := e.app.AuthenticateClient(ctx, conf.ClientID, confSecret); err != nil {
			t.Fatalf("the confidential client's secret before it is made public: %v", err)
		}
		got := decode[clientView](t, e.want(e.do("PATCH", "/clients/"+conf.ClientID, e.super, map[string]any{"public": true}), http.StatusOK))
		if c, _ := e.app.Store().GetClient(ctx, conf.ClientID); !got.Public || !c.Public {
			t.Fatalf("PATCH public true: view %v, stored %v", got.Public, c.Public)
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+conf.ClientID, e.super, map[string]any{"public": false}), http.StatusOK))
		if c, _ := e.app.Store().GetClient(ctx, conf.ClientID); got.Public || c.Public {
			t.Fatalf("PATCH public false: view %v, stored %v", got.Public, c.Public)
		}
		// Made public, it lost its secret for good: confidential again, the
		// old one (which may have shipped in the app) fails and none is
		// shown until a rotation gives it a new one.
		if _, err := e.app.AuthenticateClient(ctx, conf.ClientID, confSecret); err == nil {
			t.Fatal("the secret of before it was made public works again")
		}
		if got.ClientSecret != "" {
			t.Fatalf("a client without a secret shows %q", got.ClientSecret)
		}
		p := problemOf(t, e.do("GET", "/clients/"+conf.ClientID+"/secret", e.super, nil), http.StatusConflict)
		if !strings.Contains(p.Detail, "rotate") {
			t.Fatalf("revealing a secret it lost: %q", p.Detail)
		}
		fresh := decode[rotateView](t, e.want(e.do("POST", "/clients/"+conf.ClientID+"/rotate", e.super, nil), http.StatusOK))
		if _, err := e.app.AuthenticateClient(ctx, conf.ClientID, fresh.ClientSecret); err != nil {
			t.Fatalf("the secret a rotation gave it: %v", err)
		}

		p = problemOf(t, e.do("POST", "/clients", e.super, map[string]any{"name": "svc", "public": true, "scopes": []string{"demo.read"}}), http.StatusBadRequest)
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
		e.want(e.do("PATCH", "/clients/"+spa.ClientID, e.super, map[string]any{"public": false}), http.StatusOK)
		if r := decode[rotateView](t, e.want(e.do("POST", "/clients/"+spa.ClientID+"/rotate", e.super, nil), http.StatusOK)); r.ClientSecret == "" {
			t.Fatal("rotating a client made confidential gave no secret")
		}
	})
}
