package issuer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

// A burst of wrong passwords for one user, sent in parallel, gets no more
// password checks than a sequence does: the attempt is taken before the
// check, so of 19 parallel posts at most five are checked (401) and the
// rest wait (429); likewise 60 parallel posts from one address for
// different users get at most fifty checks.
func TestAuthorizeSignInBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		_, b, params := oobFixture(t, driver)
		csrf := csrfOf(t, page(t, b.get(params), http.StatusOK, `id="sign-in"`))
		var checks atomic.Int32
		defer web.ObserveComparisons(func(int) { checks.Add(1) })()

		burst := func(n int, username func(i int) string) (ok401, ok429 int) {
			t.Helper()
			recs := make([]*httptest.ResponseRecorder, n)
			var wg sync.WaitGroup
			for i := range n {
				form := clone(params)
				form.Set("action", "login")
				form.Set("csrf", csrf)
				form.Set("username", username(i))
				form.Set("password", "not the password")
				r := httptest.NewRequest(http.MethodPost, "/oauth/authorize", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Origin", b.origin)
				for _, ck := range b.cookies {
					r.AddCookie(ck)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					recs[i] = httptest.NewRecorder()
					if err := b.a.ServeHTTP(recs[i], r, nil); err != nil {
						t.Errorf("ServeHTTP: %v", err)
					}
				}()
			}
			wg.Wait()
			for _, rec := range recs {
				switch rec.Code {
				case http.StatusUnauthorized:
					ok401++
				case http.StatusTooManyRequests:
					ok429++
				default:
					t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
				}
			}
			return ok401, ok429
		}

		checked, waited := burst(19, func(int) string { return "ada" })
		if checked > 5 || checked == 0 || checked+waited != 19 || int(checks.Load()) != checked {
			t.Fatalf("19 parallel wrong passwords for one user: %d checked (%d comparisons), %d told to wait; want at most 5 checked",
				checked, checks.Load(), waited)
		}
		checks.Store(0)
		checked, waited = burst(60, func(i int) string { return "guess-" + string(rune('a'+i%26)) + string(rune('a'+i/26)) })
		if checked > 50 || checked+waited != 60 || int(checks.Load()) != checked {
			t.Fatalf("60 parallel sign-ins from one address: %d checked (%d comparisons), %d told to wait; want at most 50 checked",
				checked, checks.Load(), waited)
		}
	})
}

// Every failed sign-in does the work of a real one: an unknown user, an
// empty username, a user without a password and a wrong password are each
// one bcrypt comparison against a hash of the cost real hashes have, so
// the answer's timing does not tell which users exist.
func TestAuthorizeSignInSameWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		// Not the minimum cost the other tests use, which a fixed cheap
		// dummy hash would match by chance.
		defer func(c int) { web.PasswordCost = c }(web.PasswordCost)
		web.PasswordCost = bcrypt.MinCost + 1
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		f.user(store.DefaultTenantID, "nopass", false)
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read")
		u, err := f.app.Store().FindUser(context.Background(), store.DefaultTenantID, "ada")
		if err != nil {
			t.Fatal(err)
		}
		realCost := bcryptCost(t, u.PasswordHash)
		if realCost != web.PasswordCost {
			t.Fatalf("the user's hash has cost %d", realCost)
		}
		var mu sync.Mutex
		var costs []int
		defer web.ObserveComparisons(func(cost int) { mu.Lock(); costs = append(costs, cost); mu.Unlock() })()
		for _, name := range []string{"nobody", "", "nopass", "ada"} {
			costs = nil
			page(t, b.login(params, name, "not the password"), http.StatusUnauthorized, "Wrong username or password.")
			if len(costs) != 1 || costs[0] != realCost {
				t.Errorf("user %q: compared against hash costs %v, want one of cost %d", name, costs, realCost)
			}
		}
	})
}

func bcryptCost(t *testing.T, hash string) int {
	t.Helper()
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		t.Fatal(err)
	}
	return cost
}

// A sign-in post whose client has gone (its request context cancelled, as
// when the connection drops) before its password's turn is not checked and
// gives its attempt back (logged 499): posts closed at once no longer queue
// password work ahead of everyone's sign-in (DoS red team: 80 of them held
// a real sign-in 7 s), and count against no one, so six of them leave the
// user's count as it was and the right password still signs in.
func TestAbortedSignInIsNotChecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		_, b, params := oobFixture(t, driver)
		var checks atomic.Int32
		stop := web.ObserveComparisons(func(int) { checks.Add(1) })
		defer stop()
		for range 6 {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if rec := b.serve(b.postRequest(ctx, b.loginForm(params, "ada", "wrong-Passw0rd"))); rec.Code != web.StatusClientGone {
				t.Fatalf("an aborted sign-in: %d, want %d", rec.Code, web.StatusClientGone)
			}
		}
		if checks.Load() != 0 {
			t.Fatalf("%d password checks for aborted sign-ins, want none", checks.Load())
		}
		page(t, b.login(params, "ada", testPassword), http.StatusOK, `value="approve"`)
	})
}
