package web

import (
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/scopegate/scopegate/module/secret"
)

// SignInCSRF protects a sign-in form, which has no session yet to hold a
// CSRF token: without one, another site could post its own username and
// password and sign the victim in as the attacker (login CSRF). It is a
// double-submit token: the form's hidden "csrf" field must equal the token
// sealed in a cookie of its own, compared in constant time. Sealing (AES-GCM
// under the master key, bound to the cookie's name) means the cookie cannot
// be forged or given a chosen token; the Origin check below stays in front.
type SignInCSRF struct {
	// Name of the cookie, e.g. "scopegate_console_csrf".
	Name string
	// Path the cookie is sent for: the form's own path.
	Path string
	// TTL is how long a sign-in page can sit open before its post is refused.
	TTL    time.Duration
	Sealer *secret.Sealer
}

type signInToken struct {
	Token   string    `json:"t"`
	Expires time.Time `json:"e"`
}

// Token returns the token for a sign-in page: the one the browser's cookie
// holds while it has more than half its life left (so several open tabs
// share it), else a new one, set in the cookie.
func (c *SignInCSRF) Token(w http.ResponseWriter, r *http.Request) (string, error) {
	if t := c.read(r); t != nil && time.Until(t.Expires) > c.TTL/2 {
		return t.Token, nil
	}
	t := signInToken{Token: secret.NewToken(24), Expires: time.Now().Add(c.TTL).UTC()}
	if err := setSealedCookie(w, r, c.Sealer, c.Name, c.Path, "signin-csrf:"+c.Name, t, t.Expires); err != nil {
		return "", err
	}
	return t.Token, nil
}

// Check verifies a sign-in post. The browser must name its origin (Origin,
// or failing that Referer) and it must be this host: every current browser
// sends Origin with a form post, so a post with neither is not a browser's
// sign-in and is refused here, unlike the session-backed forms. Then the
// form's csrf field must equal the cookie's unexpired token.
func (c *SignInCSRF) Check(r *http.Request) error {
	if r.Header.Get("Origin") == "" && r.Header.Get("Referer") == "" {
		return ErrCSRF
	}
	if !SameOrigin(r) {
		return ErrCSRF
	}
	t := c.read(r)
	if t == nil {
		return ErrCSRF
	}
	got := r.PostFormValue("csrf")
	if subtle.ConstantTimeCompare([]byte(got), []byte(t.Token)) != 1 {
		return ErrCSRF
	}
	return nil
}

// read returns the cookie's token while it is valid, or nil.
func (c *SignInCSRF) read(r *http.Request) *signInToken {
	var t signInToken
	if !openSealedCookie(r, c.Sealer, c.Name, "signin-csrf:"+c.Name, &t) || t.Token == "" || !time.Now().Before(t.Expires) {
		return nil
	}
	return &t
}
