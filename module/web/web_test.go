package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/scopegate/scopegate/module/secret"
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

func sessions(t *testing.T) *Sessions {
	s, err := secret.NewSealer(bytes.Repeat([]byte{1}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &Sessions{Name: "sg", Path: "/", TTL: time.Hour, Sealer: s}
}

// A session cookie is HttpOnly and SameSite, reads back, cannot be forged or
// altered, and is Secure over TLS.
func TestSessionCookie(t *testing.T) {
	s := sessions(t)
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
	r2 := httptest.NewRequest("GET", "/", nil)
	r2.AddCookie(c)
	got := s.Read(r2)
	if got == nil || got.UserID != "u1" || got.CSRF != sess.CSRF {
		t.Fatalf("read back %+v", got)
	}
	tampered := *c
	tampered.Value = c.Value[:len(c.Value)-2] + "AA"
	r3 := httptest.NewRequest("GET", "/", nil)
	r3.AddCookie(&tampered)
	if s.Read(r3) != nil {
		t.Fatal("tampered cookie accepted")
	}
	other := *s
	other.Name = "other"
	r4 := httptest.NewRequest("GET", "/", nil)
	r4.AddCookie(&http.Cookie{Name: "other", Value: c.Value})
	if other.Read(r4) != nil {
		t.Fatal("a cookie sealed for one name read under another")
	}
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
