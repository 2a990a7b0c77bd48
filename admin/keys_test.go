package admin

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

func keysOf(t *testing.T, e *env, tok string) map[string]keyView {
	t.Helper()
	got := decode[struct {
		Items []keyView `json:"items"`
		Total int       `json:"total"`
	}](t, e.want(e.do("GET", "/keys", tok, nil), http.StatusOK))
	by := map[string]keyView{}
	for _, k := range got.Items {
		by[k.KID] = k
	}
	if len(by) != got.Total {
		t.Fatalf("GET /keys: total %d for %+v", got.Total, got.Items)
	}
	return by
}

// GET /keys shows, to super admins only, every key that verifies with its
// state and schedule: before a rotation the signing key alone, with nothing
// scheduled; while the next key is pre-published the signing key retires at
// its activation and verifies key_overlap longer, and the pending key has
// neither date.
func TestKeysList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		old := e.app.Keys().SigningKID()
		keys := keysOf(t, e, e.super)
		if k := keys[old]; len(keys) != 1 || k.State != token.KeySigning || k.RetiresAt != nil || k.VerifiesUntil != nil || k.ActivatesAt.IsZero() {
			t.Fatalf("keys before a rotation = %+v", keys)
		}
		next := decode[keyView](t, e.want(e.do("POST", "/keys/rotate", e.super, nil), http.StatusOK))
		keys = keysOf(t, e, e.super)
		signing, pending := keys[old], keys[next.KID]
		if len(keys) != 2 || signing.State != token.KeySigning || signing.RetiresAt == nil || !signing.RetiresAt.Equal(next.ActivatesAt) ||
			signing.VerifiesUntil == nil || !signing.VerifiesUntil.Equal(next.ActivatesAt.Add(time.Duration(e.app.KeyOverlap))) {
			t.Errorf("signing key while %s is pending = %+v", next.KID, signing)
		}
		if pending.State != token.KeyPending || !pending.ActivatesAt.Equal(next.ActivatesAt) || pending.RetiresAt != nil || pending.VerifiesUntil != nil {
			t.Errorf("pending key = %+v, rotation answered %+v", pending, next)
		}
		ta, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		problemOf(t, e.do("GET", "/keys", ta, nil), http.StatusForbidden)
	})
}

// "retire_old" needs "emergency" (400 naming the field, nothing rotated);
// with it the new key signs at once and the replaced keys stop verifying:
// the admin token signed by the old key is refused, GET /keys lists the new
// key alone. Unknown members are refused too.
func TestKeysRotateRetireOld(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		old := e.app.Keys().SigningKID()
		p := problemOf(t, e.do("POST", "/keys/rotate", e.super, map[string]any{"retire_old": true}), http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Field != "retire_old" {
			t.Fatalf("retire_old without emergency: %+v", p)
		}
		problemOf(t, e.do("POST", "/keys/rotate", e.super, map[string]any{"now": true}), http.StatusBadRequest)
		if keys := keysOf(t, e, e.super); len(keys) != 1 || e.app.Keys().SigningKID() != old {
			t.Fatalf("a refused rotation changed the keys: %+v", keys)
		}
		next := decode[keyView](t, e.want(e.do("POST", "/keys/rotate", e.super, map[string]any{"emergency": true, "retire_old": true}), http.StatusOK))
		if next.State != token.KeySigning || e.app.Keys().SigningKID() != next.KID {
			t.Fatalf("emergency rotation = %+v", next)
		}
		if w := e.do("GET", "/keys", e.super, nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("a token of the retired key: %d %s, want 401", w.Code, w.Body)
		}
		fresh, _ := e.adminToken(store.DefaultTenantID, scope.Admin)
		if keys := keysOf(t, e, fresh); len(keys) != 1 || keys[next.KID].State != token.KeySigning {
			t.Fatalf("keys after retire_old = %+v", keys)
		}
	})
}

// Once the pre-published key's activation passes (a 1s key_prepublish),
// it signs, with no request doing anything, and the next rotation is
// accepted again.
func TestKeysRotateAfterActivation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, func(a *app.App) { a.KeyPrepublish = caddy.Duration(time.Second) })
		next := decode[keyView](t, e.want(e.do("POST", "/keys/rotate", e.super, nil), http.StatusOK))
		for e.app.Keys().SigningKID() != next.KID {
			if time.Now().After(next.ActivatesAt.Add(10 * time.Second)) {
				t.Fatalf("%s activates at %s but does not sign", next.KID, next.ActivatesAt)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := e.app.Verify(context.Background(), e.super); err != nil {
			t.Fatalf("the old key's token after the activation: %v", err)
		}
		again := decode[keyView](t, e.want(e.do("POST", "/keys/rotate", e.super, nil), http.StatusOK))
		if again.State != token.KeyPending || e.app.Keys().SigningKID() != next.KID {
			t.Fatalf("rotation after the activation = %+v", again)
		}
	})
}
