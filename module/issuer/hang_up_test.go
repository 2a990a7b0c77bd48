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

// A grant that spends a single-use credential and whose caller hangs up
// leaves the code or refresh token as the caller left it: the grant runs
// to its end (a cancel landing in the spend's commit, where the database
// may have committed what Go reports as canceled, left a refresh token
// spent with no successor: 16 times in 120 tries through the built
// binary, each retry then revoking the grant as a reuse) and then takes
// itself back, since nobody reads its answer. Here the caller is gone
// before the grant starts: the same code then redeems once, the same
// refresh token then rotates (no reuse), and the grant holds one usable
// refresh token.
func TestSpendingGrantsTakeThemselvesBackWhenTheCallerHangsUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret, b := f.codeGrantApp(t)
		// The client is known to this node before the hang-ups (its
		// authentication reads the caller's context, and may stop there).
		warm := f.refreshAs(t, c.ID, secret, "unknown")
		if warm.Status != http.StatusBadRequest {
			t.Fatalf("warm-up: %s", warm.Raw)
		}

		code := codeFor(t, b, c, "")
		redeem := func(r *http.Request) result {
			return serve(t, f.ep, r)
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
		if r := redeem(hungUp(withBasic(formRequest(form), c.ID, secret))); r.Status == http.StatusOK {
			t.Fatalf("a redemption whose caller hung up was answered: %s", r.Raw)
		}
		redeemed := redeem(withBasic(formRequest(form), c.ID, secret))
		if redeemed.Status != http.StatusOK {
			t.Fatalf("the same code after its caller hung up: %s, want it redeemed", redeemed.Raw)
		}
		rt := redeemed.str("refresh_token")
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if r := serve(t, f.ep, hungUp(withBasic(formRequest(refresh), c.ID, secret))); r.Status == http.StatusOK {
			t.Fatalf("a refresh whose caller hung up was answered: %s", r.Raw)
		}
		rotated := f.refreshAs(t, c.ID, secret, rt)
		if rotated.Status != http.StatusOK {
			t.Fatalf("the same refresh token after its caller hung up: %s, want it rotated", rotated.Raw)
		}
		family := store.RefreshFamilyOf(rotated.str("refresh_token"))
		var unused int64
		if err := f.app.Store().DB.Model(&store.RefreshToken{}).Where("family_id = ? AND used_at IS NULL", family).Count(&unused).Error; err != nil {
			t.Fatal(err)
		}
		if unused != 1 {
			t.Fatalf("the grant holds %d unused refresh tokens, want its current one alone", unused)
		}
		f.verify(t, f.refreshAs(t, c.ID, secret, rotated.str("refresh_token")).str("access_token"))
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

// A token that is never handed out gives back the daily allowance it took:
// a code redemption and a refresh whose caller hung up take themselves back,
// and their retries then get a whole token's lifetime again. The client's
// allowance is one token's lifetime a day (60 minutes), so without the
// refund each retry would be refused as the day used up. The row's count
// ends at what the delivered tokens took.
func TestTakenBackGrantsGiveTheirAllowanceBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ada := f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"},
			RedirectURIs: store.Strings{appRedirect}, TokenLifetimeMinutes: 60, MaxMinutesPerDay: 60})
		_, b := f.authorize(t)
		if warm := f.refreshAs(t, c.ID, secret, "unknown"); warm.Status != http.StatusBadRequest {
			t.Fatalf("warm-up: %s", warm.Raw)
		}
		used := func() int64 {
			var u store.DailyUsage
			if err := f.app.Store().DB.Where("client_id = ? AND subject = ?", c.ID, ada.ID).Take(&u).Error; err != nil {
				t.Fatal(err)
			}
			return u.SecondsUsed
		}

		form := url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, c, "")}}
		if r := serve(t, f.ep, hungUp(withBasic(formRequest(form), c.ID, secret))); r.Status == http.StatusOK {
			t.Fatalf("a redemption whose caller hung up was answered: %s", r.Raw)
		}
		if u := used(); u != 0 {
			t.Fatalf("after a redemption taken back the day's usage is %d s, want 0", u)
		}
		redeemed := serve(t, f.ep, withBasic(formRequest(form), c.ID, secret))
		if redeemed.Status != http.StatusOK || redeemed.Body["expires_in"] != float64(3600) {
			t.Fatalf("the retried redemption: %s, want a token of 3600 s", redeemed.Raw)
		}
		if u := used(); u != 3600 {
			t.Fatalf("after one delivered token the day's usage is %d s, want 3600", u)
		}
		// The day is used up now: a refresh is refused, and gives nothing
		// back; a refresh taken back leaves the usage as it was.
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {redeemed.str("refresh_token")}}
		if r := serve(t, f.ep, hungUp(withBasic(formRequest(refresh), c.ID, secret))); r.Status == http.StatusOK {
			t.Fatalf("a refresh whose caller hung up was answered: %s", r.Raw)
		}
		if u := used(); u != 3600 {
			t.Fatalf("after a refused refresh the day's usage is %d s, want 3600", u)
		}
	})
}

// hangsUpLate is a context whose caller is gone (Err is Canceled) while
// its Done channel stays open: the database work of the request runs to
// its end, as it does when the caller hangs up just after its last write.
type hangsUpLate struct{ context.Context }

func (hangsUpLate) Err() error { return context.Canceled }

// A client_credentials token whose caller hung up once its allowance was
// charged is never handed out, and the charge goes back: a dropped
// connection spent a whole day of a Nitro user's allowance (red team). The
// next request gets the full lifetime.
func TestHungUpTokenGivesItsAllowanceBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, TokenLifetimeMinutes: 60, MaxMinutesPerDay: 60})
		r := withBasic(formRequest(ccForm()), c.ID, secret)
		r = r.WithContext(hangsUpLate{r.Context()})
		if res := serve(t, f.ep, r); res.Status == http.StatusOK {
			t.Fatalf("a token whose caller hung up was answered: %s", res.Raw)
		}
		if res, _ := f.issue(t, f.ep, c.ID, secret); res.Body["expires_in"] != float64(3600) {
			t.Fatalf("after the hung-up request: expires_in %v, want the whole allowance, 3600", res.Body["expires_in"])
		}
	})
}
