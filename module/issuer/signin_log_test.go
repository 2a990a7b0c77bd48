package issuer

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A refused sign-in at the authorize page is logged at info level with the
// application (client id), the tenant, the user when one was found, why
// (unknown_user, wrong_password, user_disabled, throttled) and the remote
// address; never the username as typed nor the password.
func TestRefusedSignInIsLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ada := f.authUser(store.DefaultTenantID, "ada")
		bo, err := f.app.Store().GetUser(context.Background(), f.authUser(store.DefaultTenantID, "bo").ID)
		if err != nil {
			t.Fatal(err)
		}
		bo.Disabled = true
		if err := f.app.Store().UpdateUser(context.Background(), bo, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read")
		for _, tc := range []struct {
			username, password string
			reason, userID     string
			status             int
		}{
			{"nobody-typed-this", "Pa55word-typed-1", "unknown_user", "", http.StatusUnauthorized},
			{"ada", "Pa55word-typed-2", "wrong_password", ada.ID, http.StatusUnauthorized},
			{"bo", testPassword, "user_disabled", bo.ID, http.StatusUnauthorized},
			{"ada", "Pa55word-typed-3", "wrong_password", ada.ID, http.StatusUnauthorized},
			{"ada", "Pa55word-typed-4", "wrong_password", ada.ID, http.StatusUnauthorized},
			{"ada", "Pa55word-typed-5", "wrong_password", ada.ID, http.StatusUnauthorized},
			{"ada", "Pa55word-typed-6", "wrong_password", ada.ID, http.StatusUnauthorized},
			{"ada", "Pa55word-typed-7", "throttled", "", http.StatusTooManyRequests}, // the sixth for ada
		} {
			f.logs.TakeAll()
			if rec := b.login(params, tc.username, tc.password); rec.Code != tc.status {
				t.Fatalf("%s: status %d, want %d", tc.reason, rec.Code, tc.status)
			}
			entries := f.logs.FilterMessage("sign-in failed").AllUntimed()
			if len(entries) != 1 || entries[0].Level != zapcore.InfoLevel {
				t.Fatalf("%s: want one info entry, got %v", tc.reason, f.logs.AllUntimed())
			}
			m := entries[0].ContextMap()
			if m["reason"] != tc.reason || m["page"] != "authorize" || m["client_id"] != c.ID || m["tenant"] != store.DefaultTenantID ||
				m["user_id"] != tc.userID || m["remote_addr"] != "192.0.2.1" {
				t.Errorf("logged %v; want reason %q, client %s, tenant default, user %q, remote_addr 192.0.2.1", m, tc.reason, c.ID, tc.userID)
			}
			if text := f.loggedText(); strings.Contains(text, tc.password) || strings.Contains(text, "nobody-typed-this") {
				t.Errorf("the password or the typed username is in the log: %s", text)
			}
		}
	})
}
