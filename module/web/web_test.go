package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

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
	if !CheckPassword(h1, "correct horse battery") || CheckPassword(h1, "wrong horse battery") || CheckPassword("", "x") {
		t.Fatal("CheckPassword gave a wrong answer")
	}
	if _, err := HashPassword("short"); err != ErrWeakPassword {
		t.Fatalf("short password: %v", err)
	}
}

// After the free failures each attempt must wait, doubling up to the cap;
// success clears the key; keys are independent.
func TestThrottle(t *testing.T) {
	th := NewThrottle(2, time.Second, 4*time.Second)
	th.Fail("a")
	th.Fail("a")
	if th.Wait("a") != 0 {
		t.Fatal("waiting within the free failures")
	}
	th.Fail("a")
	if w := th.Wait("a"); w <= 0 || w > time.Second {
		t.Fatalf("first wait %v", w)
	}
	for i := 0; i < 10; i++ {
		th.Fail("a")
	}
	if w := th.Wait("a"); w > 4*time.Second || w < 3*time.Second {
		t.Fatalf("capped wait %v", w)
	}
	if th.Wait("b") != 0 {
		t.Fatal("keys are not independent")
	}
	th.Succeed("a")
	if th.Wait("a") != 0 {
		t.Fatal("success did not clear the key")
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
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	sess, err := s.Read(r)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// A session cookie is HttpOnly and SameSite, reads back, cannot be forged or
// altered, and is Secure over TLS.
func TestSessionCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		s := sessions(t, driver)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "https://gw.test/", nil)
		sess, err := s.Start(rec, req, "u1", "t1")
		if err != nil {
			t.Fatal(err)
		}
		c := rec.Result().Cookies()[0]
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || strings.Contains(c.Value, "u1") {
			t.Fatalf("cookie %+v", c)
		}
		if got := read(t, s, c); got == nil || got.UserID != "u1" || got.CSRF != sess.CSRF || got.ID == "" || got.ID != sess.ID {
			t.Fatalf("read back %+v", got)
		}
		tampered := *c
		tampered.Value = c.Value[:len(c.Value)-2] + "AA"
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
			if _, err := s.Start(rec, httptest.NewRequest("GET", "/", nil), "u1", "t1"); err != nil {
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
