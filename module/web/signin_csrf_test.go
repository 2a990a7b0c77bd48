package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/secret"
)

func signInCSRF(t *testing.T, name string, ttl time.Duration) *SignInCSRF {
	s, err := secret.NewSealer(bytes.Repeat([]byte{1}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &SignInCSRF{Name: name, Path: "/signin", TTL: ttl, Sealer: s}
}

// The sign-in page's token lives in its own sealed cookie (HttpOnly,
// SameSite=Lax, the form's path); a second page load reuses it, so two tabs
// both work.
func TestSignInCSRFToken(t *testing.T) {
	c := signInCSRF(t, "sg_csrf", time.Hour)
	rec := httptest.NewRecorder()
	tok, err := c.Token(rec, httptest.NewRequest("GET", "http://gw.test/signin", nil))
	if err != nil || tok == "" {
		t.Fatalf("token %q, %v", tok, err)
	}
	ck := rec.Result().Cookies()[0]
	if ck.Name != "sg_csrf" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/signin" || strings.Contains(ck.Value, tok) {
		t.Fatalf("cookie %+v", ck)
	}
	r := httptest.NewRequest("GET", "http://gw.test/signin", nil)
	r.AddCookie(ck)
	rec2 := httptest.NewRecorder()
	if again, _ := c.Token(rec2, r); again != tok || len(rec2.Result().Cookies()) != 0 {
		t.Fatalf("second page: token %q (want %q), cookies %v", again, tok, rec2.Result().Cookies())
	}
}

// A sign-in post passes only with the cookie's token in the csrf field and
// an Origin (or Referer) of this host: a missing or wrong token, a missing,
// tampered, expired or other form's cookie, another origin, or no Origin and
// no Referer at all are each refused with ErrCSRF.
func TestSignInCSRFCheck(t *testing.T) {
	c := signInCSRF(t, "sg_csrf", time.Hour)
	cookieAndToken := func(c *SignInCSRF) (*http.Cookie, string) {
		rec := httptest.NewRecorder()
		tok, err := c.Token(rec, httptest.NewRequest("GET", "http://gw.test/signin", nil))
		if err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()[0], tok
	}
	ck, tok := cookieAndToken(c)
	post := func(token string, cookie *http.Cookie, headers ...string) *http.Request {
		form := url.Values{"username": {"ada"}}
		if token != "" {
			form.Set("csrf", token)
		}
		r := httptest.NewRequest("POST", "http://gw.test/signin", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		if cookie != nil {
			r.AddCookie(cookie)
		}
		return r
	}
	if err := c.Check(post(tok, ck, "Origin", "http://gw.test")); err != nil {
		t.Fatalf("good post refused: %v", err)
	}
	if err := c.Check(post(tok, ck, "Referer", "http://gw.test/signin?x=1")); err != nil {
		t.Fatalf("good post with only a Referer refused: %v", err)
	}

	// One character in the middle changed: always other sealed bytes (the
	// last two could already be "AA", about once in 3000 runs).
	tampered := *ck
	mid, swap := len(ck.Value)/2, byte('A')
	if ck.Value[mid] == 'A' {
		swap = 'B'
	}
	tampered.Value = ck.Value[:mid] + string(swap) + ck.Value[mid+1:]
	otherForm := signInCSRF(t, "other_csrf", time.Hour)
	otherCookie, otherTok := cookieAndToken(otherForm)
	renamed := *otherCookie
	renamed.Name = "sg_csrf" // a valid cookie of another form, under this name
	short := signInCSRF(t, "sg_csrf", time.Millisecond)
	expiredCookie, expiredTok := cookieAndToken(short)
	time.Sleep(5 * time.Millisecond)
	for name, tc := range map[string]struct {
		c *SignInCSRF
		r *http.Request
	}{
		"wrong token":            {c, post("forged", ck, "Origin", "http://gw.test")},
		"no token":               {c, post("", ck, "Origin", "http://gw.test")},
		"no cookie":              {c, post(tok, nil, "Origin", "http://gw.test")},
		"tampered cookie":        {c, post(tok, &tampered, "Origin", "http://gw.test")},
		"another form's cookie":  {c, post(otherTok, &renamed, "Origin", "http://gw.test")},
		"expired cookie":         {short, post(expiredTok, expiredCookie, "Origin", "http://gw.test")},
		"another origin":         {c, post(tok, ck, "Origin", "https://evil.test")},
		"null origin":            {c, post(tok, ck, "Origin", "null")},
		"another site's referer": {c, post(tok, ck, "Referer", "https://evil.test/")},
		"no origin, no referer":  {c, post(tok, ck)},
	} {
		if err := tc.c.Check(tc.r); err != ErrCSRF {
			t.Errorf("%s: %v, want ErrCSRF", name, err)
		}
	}
}
