package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A client's or an app's name is all the consent page says of the
// application, so a new name may not mix Latin, Greek and Cyrillic letters
// ("Imagen Deskt\u043ep", with a Cyrillic о, reads as "Imagen Desktop"):
// creating or renaming a client or an app so is a 400 naming name. A name of
// one script (Cyrillic alone, Latin with digits and signs) is fine, and a
// client whose stored name predates the rule can still change other things.
func TestShownNamesCannotMixScripts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		read := []string{"demo.read"}
		refused := func(what, method, path string, body map[string]any) {
			t.Helper()
			p := problemOf(t, e.do(method, path, e.super, body), http.StatusBadRequest)
			if !slices.Equal(fields(p), []string{"name"}) {
				t.Fatalf("%s: %+v, want a 400 naming name", what, p.Errors)
			}
		}
		lookAlike := "Imagen Deskt\u043ep"
		refused("a client named with a Cyrillic о", "POST", "/clients", map[string]any{"name": lookAlike, "scopes": read})
		real := e.create(e.super, map[string]any{"name": "Imagen Desktop 2.0 (beta)", "scopes": read})
		e.create(e.super, map[string]any{"name": "Мой клиент", "scopes": read})
		refused("a client renamed with a Greek ο", "PATCH", "/clients/"+real.ClientID, map[string]any{"name": "Imagen Deskt\u03bfp"})

		e.tenant("dev")
		devAdmin, _ := e.adminToken("dev", scope.TenantAdmin)
		p := problemOf(t, e.do("POST", "/apps", devAdmin, map[string]any{"name": lookAlike, "scopes": read, "tenant_ids": []string{"t1"}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"name"}) {
			t.Fatalf("an app named with a Cyrillic о: %+v, want a 400 naming name", p.Errors)
		}

		// A name stored before the rule blocks nothing else.
		cl, err := e.app.Store().GetClient(context.Background(), real.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Store().DB.Model(cl).Update("name", lookAlike).Error; err != nil {
			t.Fatal(err)
		}
		e.want(e.do("PATCH", "/clients/"+real.ClientID, e.super, map[string]any{"max_minutes_per_day": 60}), http.StatusOK)
	})
}
