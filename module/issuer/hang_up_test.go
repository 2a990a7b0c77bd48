package issuer

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// hungUp is r with its context canceled, as a caller that went away leaves
// it.
func hungUp(r *http.Request) *http.Request {
	ctx, cancel := context.WithCancel(r.Context())
	cancel()
	return r.WithContext(ctx)
}

// A grant that spends a single-use credential runs to its end when the
// caller hangs up: a cancel landing between the spend and its successor
// (or in the spend's commit, where the database may have committed what
// Go reports as canceled) left a refresh token used with no successor, so
// the client's retry looked like a reuse and revoked its grant (seen 16
// times in 120 tries through the built binary). Here the caller is gone
// before the grant starts: the code is redeemed and the refresh token
// rotated all the same, each leaving its grant whole and usable.
func TestSpendingGrantsIgnoreACallerHangingUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret, b := f.codeGrantApp(t)
		// The client is known to this node before the hang-ups (its
		// authentication reads the caller's context, and may stop there).
		warm := f.refreshAs(t, c.ID, secret, "unknown")
		if warm.Status != http.StatusBadRequest {
			t.Fatalf("warm-up: %s", warm.Raw)
		}

		redeemed := serve(t, f.ep, hungUp(withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, c, "")}}), c.ID, secret)))
		if redeemed.Status != http.StatusOK {
			t.Fatalf("a code redeemed by a caller that hung up: %s, want the redemption done", redeemed.Raw)
		}
		rotated := serve(t, f.ep, hungUp(withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {redeemed.str("refresh_token")}}), c.ID, secret)))
		if rotated.Status != http.StatusOK {
			t.Fatalf("a refresh by a caller that hung up: %s, want the rotation done", rotated.Raw)
		}
		family := store.RefreshFamilyOf(rotated.str("refresh_token"))
		var unused int64
		if err := f.app.Store().DB.Model(&store.RefreshToken{}).Where("family_id = ? AND used_at IS NULL", family).Count(&unused).Error; err != nil {
			t.Fatal(err)
		}
		if unused != 1 {
			t.Fatalf("the grant holds %d unused refresh tokens, want its successor alone", unused)
		}
		next := f.refreshAs(t, c.ID, secret, rotated.str("refresh_token"))
		if next.Status != http.StatusOK {
			t.Fatalf("refreshing the successor: %s", next.Raw)
		}
		f.verify(t, next.str("access_token"))
	})
}

// A caller hanging up while its client is looked up is not an error of
// the gateway: anyone could add an error line per request that way (1,906
// for 2,000 requests through the built binary), each naming whatever
// client_id it sent, a pasted secret say. It is logged at debug level, and
// an id not of Scopegate's shape is never logged.
func TestHangingUpDuringClientAuthenticationLogsNoError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		for _, id := range []string{"PASTED-SECRET-QqCloYuqxLoyvrcepvBJ", "sg_NeverMadeByThisGateway0"} {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"x"}}
			serve(t, f.ep, hungUp(formRequest(form)))
		}
		for _, e := range f.logs.All() {
			if e.Level >= zapcore.ErrorLevel {
				t.Errorf("logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
		if logged := f.loggedText(); strings.Contains(logged, "PASTED-SECRET") {
			t.Errorf("a client_id not of Scopegate's shape was logged:\n%s", logged)
		}
	})
}
