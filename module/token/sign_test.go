package token

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Sign writes tokens itself: they are byte for byte what golang-jwt's
// SignedString makes of the same claims with the same key and header
// (Ed25519 signatures are deterministic), for a 2-legged token and for one
// with every optional claim, and it signs with the ring's signing key.
func TestSignIsWhatTheJWTLibraryMakes(t *testing.T) {
	r := ring(t, storetest.Open(t, store.SQLite))
	full := claims(time.Minute)
	full.Subject, full.Legs, full.Tenant, full.ConnectAs, full.PlainUser = "u1", 3, "t1", true, true
	full.Act = &Actor{Subject: "admin", ClientID: "c2"}
	full.Ext = map[string]string{"redirect_url": "https://app.test/<cb>?a=1&b=2", "application_id": "x"}
	full.NotBefore = jwt.NewNumericDate(time.Now())
	for name, c := range map[string]*Claims{"2-legged": claims(time.Minute), "every claim": full} {
		got, err := r.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		kid, priv := r.state.Load().signer(r.now())
		lib := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		lib.Header["typ"] = Type
		lib.Header["kid"] = kid
		want, err := lib.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s:\n Sign        %s\n SignedString %s", name, got, want)
		}
	}
}
