package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store/storetest"
)

func init() { PasswordCost = 4 } // the minimum: tests check behaviour, not cost

// Passwords hash slowly and salted, check correctly, refuse short ones, and
// a user without a password never signs in.
func TestPasswords(t *testing.T) {
	h1, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h1 == h2 || !strings.HasPrefix(h1, "$2") {
		t.Fatalf("hashes not salted bcrypt: %q %q", h1, h2)
	}
	if !comparePassword(h1, "correct horse battery") || comparePassword(h1, "wrong horse battery") || comparePassword("", "x") {
		t.Fatal("CheckPassword gave a wrong answer")
	}
	if _, err := HashPassword("short"); err != ErrWeakPassword {
		t.Fatalf("short password: %v", err)
	}
}

// The first free attempts of a key go through at once, then each attempt
// must wait, doubling up to the cap, and a refused attempt takes nothing;
// a released attempt is given back (and lifts the wait when it brings the
// key below the free attempts); success clears the key; keys are
// independent.
func TestThrottle(t *testing.T) {
	clock := time.Now()
	th := NewThrottle(2, time.Second, 4*time.Second)
	th.now = func() time.Time { return clock }
	if th.Acquire("a") != 0 {
		t.Fatal("first attempt refused")
	}
	if th.Acquire("a") != 0 {
		t.Fatal("second (last free) attempt refused")
	}
	if w := th.Acquire("a"); w != time.Second {
		t.Fatalf("third attempt at once: wait %v, want 1s", w)
	}
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second} {
		clock = clock.Add(time.Hour)
		if th.Acquire("a") != 0 {
			t.Fatal("an attempt after the wait refused")
		}
		if w := th.Acquire("a"); w != want {
			t.Fatalf("wait %v, want %v (doubling up to the cap)", w, want)
		}
	}
	if th.Acquire("b") != 0 {
		t.Fatal("keys are not independent")
	}
	th.Succeed("a")
	if th.Acquire("a") != 0 {
		t.Fatal("success did not clear the key")
	}
	if th.Acquire("a") != 0 || th.Acquire("a") == 0 {
		t.Fatal("after a success the key has its free attempts again, and only those")
	}
	th.Release("a")
	if th.Acquire("a") != 0 {
		t.Fatal("a released attempt was not given back")
	}
}

// Attempts are taken before the password check, under one lock: of many
// concurrent attempts for one account only the free ones get through, and
// likewise for one address; an address made to wait leaves the accounts'
// counts alone. A success gives the address its attempt back and clears the
// account.
func TestSignInThrottleBurst(t *testing.T) {
	s := NewSignInThrottle()
	var wg sync.WaitGroup
	var through atomic.Int32
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, wait := s.Acquire("tenant\x00ada", "192.0.2.1"); wait == 0 {
				through.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := through.Load(); n != 5 {
		t.Fatalf("%d of 40 concurrent attempts for one account went through, want 5", n)
	}
	through.Store(0)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, wait := s.Acquire(fmt.Sprintf("tenant\x00user%d", i), "198.51.100.7"); wait == 0 {
				through.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := through.Load(); n != 50 {
		t.Fatalf("%d of 200 concurrent attempts from one address went through, want 50", n)
	}
	// Only the attempts the address let through reached the accounts.
	held, keys := 0, 0
	for i := range 200 {
		if e, ok := s.user.entries.Peek(throttleKey("account", fmt.Sprintf("tenant\x00user%d", i))); ok {
			held += e.attempts
			keys++
		}
	}
	if held != 50 || keys != 50 {
		t.Fatalf("the accounts hold %d attempts in %d entries, want the 50 that went through", held, keys)
	}

	s = NewSignInThrottle()
	for range 4 {
		s.Acquire("tenant\x00ada", "192.0.2.1")
	}
	at, _ := s.Acquire("tenant\x00ada", "192.0.2.1")
	at.Succeeded()
	for range 5 {
		if _, wait := s.Acquire("tenant\x00ada", "192.0.2.1"); wait != 0 {
			t.Fatal("a success did not clear the account's attempts")
		}
	}
	if got := s.addr.entries.Len(); got != 1 {
		t.Fatalf("address entries %d", got)
	}
	if e, _ := s.addr.entries.Get("192.0.2.1"); e.attempts != 9 {
		t.Fatalf("the address holds %d attempts, want 9 (10 taken, the success given back)", e.attempts)
	}
}

// A full throttle does not push out a key that is still made to wait: a
// new key waits instead until that wait is over; a key whose wait is over
// may go.
func TestThrottleFullKeepsWaits(t *testing.T) {
	clock := time.Now()
	th := newThrottle(1, time.Minute, time.Hour, 3)
	th.now = func() time.Time { return clock }
	th.Acquire("victim") // its only free attempt: a minute's wait from now
	if w := th.Acquire("victim"); w != time.Minute {
		t.Fatalf("victim: wait %v, want 1m", w)
	}
	th.Acquire("a")
	clock = clock.Add(time.Second)
	th.Acquire("b") // now full; victim is the oldest key
	if w := th.Acquire("c"); w != time.Minute-time.Second {
		t.Fatalf("a new key in a full throttle whose oldest key waits: wait %v, want the 59s left of that wait", w)
	}
	if e, ok := th.entries.Peek("victim"); !ok || !e.until.After(clock) {
		t.Fatal("the waiting key was pushed out")
	}
	clock = clock.Add(time.Minute)
	if w := th.Acquire("c"); w != 0 {
		t.Fatalf("a new key after the oldest key's wait: wait %v, want none", w)
	}
	if _, ok := th.entries.Peek("victim"); ok {
		t.Fatal("the oldest key, its wait over, was kept instead of making room")
	}
}

// A flood of made-up account names from many addresses does not lift a
// guessed account's wait (found by a red-team pass: 100k names from one
// address used to push the account's count out of the cache).
func TestSignInThrottleFloodKeepsAccountWait(t *testing.T) {
	s := NewSignInThrottle()
	s.user = newThrottle(5, 2*time.Second, 15*time.Minute, 100)
	for range 6 {
		s.Acquire("t\x00victim", "192.0.2.1")
	}
	for i := range 1000 {
		s.Acquire(fmt.Sprintf("t\x00junk%d", i), fmt.Sprintf("198.51.%d.%d", i/250, i%250))
	}
	if _, wait := s.Acquire("t\x00victim", "203.0.113.9"); wait == 0 {
		t.Fatal("after a flood of made-up names the guessed account takes attempts again")
	}
}

// The account's owner, at an address they signed in from before, is not
// made to wait by someone guessing from elsewhere, while the guesser (and
// any other new address) is; the owner's own failures there still count.
func TestSignInThrottleKnownAddressKeepsOwnerIn(t *testing.T) {
	s := NewSignInThrottle()
	at, wait := s.Acquire("t\x00ada", "192.0.2.1")
	if wait != 0 {
		t.Fatal("the owner's first attempt was refused")
	}
	at.Succeeded()
	for range 8 {
		s.Acquire("t\x00ada", "203.0.113.66") // a guesser
	}
	if _, wait := s.Acquire("t\x00ada", "203.0.113.66"); wait == 0 {
		t.Fatal("the guesser is not made to wait")
	}
	if _, wait := s.Acquire("t\x00ada", "198.51.100.4"); wait == 0 {
		t.Fatal("a new address for the guessed account is not made to wait")
	}
	for i := range 5 {
		if _, wait := s.Acquire("t\x00ada", "192.0.2.1"); wait != 0 {
			t.Fatalf("the owner at their known address was made to wait after %d attempts", i)
		}
	}
	if _, wait := s.Acquire("t\x00ada", "192.0.2.1"); wait == 0 {
		t.Fatal("the owner's own failures at their known address are not counted")
	}
}

// A username cannot spell another account's known-address key (a red-team
// finding: "ada\x00192.0.2.1" typed from anywhere counted against ada at
// her known address 192.0.2.1), and keys stay small whatever the form sent.
func TestSignInThrottleKeysDoNotCollide(t *testing.T) {
	s := NewSignInThrottle()
	at, _ := s.Acquire("t\x00ada", "192.0.2.1")
	at.Succeeded()
	for range 8 {
		s.Acquire("t\x00ada\x00192.0.2.1", "203.0.113.77")
	}
	if _, wait := s.Acquire("t\x00ada", "192.0.2.1"); wait != 0 {
		t.Fatal("guesses at a username holding NUL made the owner wait at her known address")
	}
	s.Acquire(strings.Repeat("x", 64<<10), "198.51.100.1")
	for _, k := range s.user.entries.Keys() {
		if len(k) != sha256.Size {
			t.Fatalf("a throttle key of %d bytes", len(k))
		}
	}
}

// An attempt given back that leaves a key at nothing removes the key: a
// flood of sign-ins the accounts refuse (which cost no password check)
// leaves no address entries behind to fill the cache (a red-team finding:
// with the cache full of them, every new address waited).
func TestThrottleForgetsKeysAtZero(t *testing.T) {
	s := NewSignInThrottle()
	for range 6 {
		s.Acquire("t\x00locked", "192.0.2.1")
	}
	for i := range 300 {
		if _, wait := s.Acquire("t\x00locked", fmt.Sprintf("198.51.100.%d", i%250)+fmt.Sprint(i/250)); wait == 0 {
			t.Fatal("the locked account took an attempt")
		}
	}
	if n := s.addr.entries.Len(); n != 1 {
		t.Fatalf("%d address entries after 300 refused attempts from new addresses, want 1 (the first address's)", n)
	}
}

// IPv6 addresses count by their /64; IPv4 addresses and anything
// unparsable count as themselves.
func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"2001:db8:1:2:aaaa::1":  "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::ff": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":       "2001:db8:1:3::/64",
		"::ffff:192.0.2.1":      "::ffff:192.0.2.1",
		"not an ip":             "not an ip",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// sessions returns cookie sessions whose sign-outs are kept in a real
// database of the driver.
func sessions(t *testing.T, driver string) *Sessions {
	s, err := secret.NewSealer(bytes.Repeat([]byte{1}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &Sessions{Name: "sg", Path: "/", TTL: time.Hour, Sealer: s, Ended: storetest.Open(t, driver)}
}

// read reads the session a request's cookie carries; a database error fails.
func read(t *testing.T, s *Sessions, c *http.Cookie) *Session {
	t.Helper()
	target := "/"
	if strings.HasPrefix(c.Name, "__Secure-") { // set over TLS, read over TLS
		target = "https://gw.test/"
	}
	r := httptest.NewRequest("GET", target, nil)
	r.AddCookie(c)
	sess, err := s.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// A session cookie is HttpOnly and SameSite, reads back, cannot be forged or
// altered, and over TLS is Secure and named with the __Secure- prefix, so
// that a cookie planted under the plain name (by a network attacker
// answering http:// for the host: a login CSRF) is not read there.
func TestSessionCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		s := sessions(t, driver)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "https://gw.test/", nil)
		// A user id long enough that random sealed bytes never spell it
		// (a two-letter id did, once: "u1" turned up in the base64).
		const user = "user-ada-lovelace"
		sess, err := s.Start(rec, req, user, "t1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c := rec.Result().Cookies()[0]
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || strings.Contains(c.Value, user) || c.Name != "__Secure-"+s.Name {
			t.Fatalf("cookie %+v", c)
		}
		planted := httptest.NewRequest("GET", "https://gw.test/", nil)
		planted.AddCookie(&http.Cookie{Name: s.Name, Value: c.Value})
		if got, err := s.Read(planted); err != nil || got != nil {
			t.Fatalf("a session planted under the plain name was read over TLS: %+v (%v)", got, err)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || bytes.Contains(raw, []byte(user)) {
			t.Fatalf("the cookie is not sealed: %q (%v)", raw, err)
		}
		if got := read(t, s, c); got == nil || got.UserID != user || got.CSRF != sess.CSRF || got.ID == "" || got.ID != sess.ID {
			t.Fatalf("read back %+v", got)
		}
		// One character in the middle changed: always other sealed bytes
		// (changing the last ones could keep them, and did, 1 run in ~100).
		tampered := *c
		mid := len(c.Value) / 2
		swap := byte('A')
		if c.Value[mid] == 'A' {
			swap = 'B'
		}
		tampered.Value = c.Value[:mid] + string(swap) + c.Value[mid+1:]
		if read(t, s, &tampered) != nil {
			t.Fatal("tampered cookie accepted")
		}
		other := *s
		other.Name = "other"
		if read(t, &other, &http.Cookie{Name: "other", Value: c.Value}) != nil {
			t.Fatal("a cookie sealed for one name read under another")
		}
	})
}

// Sign-out ends the session on the server: the cookie is expired, and a
// copy of it taken before is refused afterwards although it is still sealed
// and unexpired; the user's other sessions are not affected, and a session
// without an id (sealed before sessions had one) is refused.
func TestSignOutEndsSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		s := sessions(t, driver)
		start := func() *http.Cookie {
			rec := httptest.NewRecorder()
			if _, err := s.Start(rec, httptest.NewRequest("GET", "/", nil), "u1", "t1", time.Now()); err != nil {
				t.Fatal(err)
			}
			return rec.Result().Cookies()[0]
		}
		copied, otherDevice := start(), start()
		r := httptest.NewRequest("POST", "/signout", nil)
		r.AddCookie(copied)
		rec := httptest.NewRecorder()
		if err := s.End(rec, r); err != nil {
			t.Fatal(err)
		}
		if c := rec.Result().Cookies()[0]; c.Name != "sg" || c.MaxAge >= 0 || c.Value != "" {
			t.Fatalf("sign-out cookie %+v", c)
		}
		if read(t, s, copied) != nil {
			t.Fatal("a copy of the signed-out cookie still reads as a session")
		}
		if read(t, s, otherDevice) == nil {
			t.Fatal("signing out one session ended another")
		}
		plain, _ := json.Marshal(Session{UserID: "u1", TenantID: "t1", CSRF: "c", Expires: time.Now().Add(time.Hour)})
		sealed, _ := s.Sealer.Seal(plain, []byte("session:sg"))
		if read(t, s, &http.Cookie{Name: "sg", Value: base64.RawURLEncoding.EncodeToString(sealed)}) != nil {
			t.Fatal("a session without an id was accepted")
		}
	})
}

// CSRF: the right token from the same origin passes; a wrong or missing
// token, or another Origin, fails.
func TestCSRF(t *testing.T) {
	sess := &Session{UserID: "u", CSRF: "tok"}
	post := func(token, origin string) *http.Request {
		r := httptest.NewRequest("POST", "http://gw.test/x", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	if err := CheckCSRF(post("tok", "http://gw.test"), sess); err != nil {
		t.Fatalf("good post refused: %v", err)
	}
	for name, r := range map[string]*http.Request{
		"wrong token":  post("nope", "http://gw.test"),
		"no token":     post("", "http://gw.test"),
		"other origin": post("tok", "http://evil.test"),
		"null origin":  post("tok", "null"),
	} {
		if CheckCSRF(r, sess) == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if CheckCSRF(post("tok", ""), nil) == nil {
		t.Error("post without a session accepted")
	}
}

// Pages share the layout, escape data, and carry the security headers.
func TestRender(t *testing.T) {
	fsys := fstest.MapFS{"p/hello.html": {Data: []byte(`{{define "title"}}Hi{{end}}{{define "content"}}<p>{{.}}</p>{{end}}`)}}
	pages, err := Pages(fsys, "p/*.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := Render(rec, 200, pages["hello"], "<script>x</script>", "https://client.test"); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "<title>Hi</title>") || !strings.Contains(body, "viewport") {
		t.Fatalf("page %s", body)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' https://client.test") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
}

// A check for a missing user (an empty hash) compares against a dummy hash
// of the very cost HashPassword uses, so it takes as long as a real check,
// and never matches; every check is seen by ObserveComparisons.
func TestDummyHashCost(t *testing.T) {
	// Not the minimum cost the other tests use, which a fixed cheap dummy
	// would match by chance.
	defer func(c int) { PasswordCost = c }(PasswordCost)
	PasswordCost = bcrypt.MinCost + 1
	real, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	realCost, _ := bcrypt.Cost([]byte(real))
	dummyCost, err := bcrypt.Cost(dummyHash())
	if err != nil || dummyCost != realCost || dummyCost != PasswordCost {
		t.Fatalf("dummy hash cost %d (%v), real hash cost %d, PasswordCost %d", dummyCost, err, realCost, PasswordCost)
	}
	var costs []int
	stop := ObserveComparisons(func(cost int) { costs = append(costs, cost) })
	defer stop()
	if comparePassword("", "scopegate-timing-equaliser") || comparePassword("", "") {
		t.Fatal("an empty hash matched")
	}
	comparePassword(real, "wrong horse battery")
	if len(costs) != 3 || costs[0] != realCost || costs[1] != realCost || costs[2] != realCost {
		t.Fatalf("compared against costs %v, want three of %d", costs, realCost)
	}
}

// One address guessing at an account, however long it keeps at it (one
// guess each time its own wait ends, the doubling waits of an hour and
// more), makes the account's other addresses wait 2 s at most: only its
// first five attempts count towards the account's shared count (the
// resource-exhaustion red team locked an account out for good with one
// request a quarter hour). Guesses from many addresses still add up there
// and make a new address wait longer; the guesser itself waits its own
// doubling waits.
func TestSignInThrottleOneAddressCannotLockAnAccountOut(t *testing.T) {
	s := NewSignInThrottle()
	clock := time.Now()
	for _, th := range []*Throttle{s.user, s.pair, s.beyond, s.addr} {
		th.now = func() time.Time { return clock }
	}
	longest := time.Duration(0)
	for range 40 {
		_, wait := s.Acquire("t\x00ada", "203.0.113.66")
		if wait > longest {
			longest = wait
		}
		if wait > 0 {
			clock = clock.Add(wait) // the guesser comes back when allowed
			continue
		}
		// A probe from a new address, given back when taken (as a check the
		// server could not make is), so it adds nothing itself.
		at, w := s.Acquire("t\x00ada", "198.51.100.4")
		if w > 2*time.Second {
			t.Fatalf("after the guesser's latest attempt a new address waits %v, want 2s at most", w)
		}
		at.Abandon()
	}
	if longest < time.Hour/4 {
		t.Fatalf("the guesser waited %v at most, want its own waits to reach the 15-minute cap", longest)
	}

	s = NewSignInThrottle()
	for _, th := range []*Throttle{s.user, s.pair, s.beyond, s.addr} {
		th.now = func() time.Time { return clock }
	}
	for i := range 4 {
		for taken := 0; taken < 5; {
			if _, wait := s.Acquire("t\x00bob", fmt.Sprintf("192.0.2.%d", i+1)); wait > 0 {
				clock = clock.Add(wait)
			} else {
				taken++
			}
		}
	}
	if _, wait := s.Acquire("t\x00bob", "198.51.100.9"); wait < 16*time.Second {
		t.Fatalf("after 20 guesses from 4 addresses a new address waits %v, want the account's count to have added up", wait)
	}
}

// More addresses do not mean more guesses at one account: addresses that
// each retry the moment their wait ends, for a simulated day, get at most
// a few times what one address gets (the account's shared count for each
// address's first five attempts, and one count for all past theirs), not a
// schedule each (a review of the per-address count: 100 addresses guessed
// 13 times what one did).
func TestSignInThrottleAddressesDoNotMultiplyGuesses(t *testing.T) {
	guesses := func(addresses int) int {
		s := NewSignInThrottle()
		clock := time.Now()
		for _, th := range []*Throttle{s.user, s.pair, s.beyond, s.addr} {
			th.now = func() time.Time { return clock }
		}
		next := make([]time.Time, addresses)
		for i := range next {
			next[i] = clock
		}
		end, taken := clock.Add(24*time.Hour), 0
		for {
			i := 0
			for j := range next {
				if next[j].Before(next[i]) {
					i = j
				}
			}
			if next[i].After(end) {
				return taken
			}
			clock = next[i]
			if _, wait := s.Acquire("t\x00ada", fmt.Sprintf("10.0.%d.%d", i/250, i%250)); wait > 0 {
				next[i] = clock.Add(wait)
			} else {
				taken++ // a wrong password: the attempt stays counted
			}
		}
	}
	one, many := guesses(1), guesses(100)
	if many > 3*one {
		t.Fatalf("in a day 100 addresses guessed %d times, one address %d: more addresses must not multiply the guesses", many, one)
	}
	t.Logf("guesses in a simulated day: one address %d, 100 addresses %d", one, many)
}
