package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scopegate/scopegate/module/secret"
)

// Session is what a signed-in browser carries, sealed (AES-GCM) in a cookie:
// it cannot be read or changed without the master key.
type Session struct {
	// ID names the session, so signing out can end it on the server.
	ID       string    `json:"i"`
	UserID   string    `json:"u"`
	TenantID string    `json:"t"`
	CSRF     string    `json:"c"`
	Expires  time.Time `json:"e"`
	// UserVersion is the user's UpdatedAt as read with the password hash
	// the sign-in checked. Any later change to the user (a password reset
	// above all) moves it on and ends the session (For), however the
	// change and the sign-in interleaved: a time taken when the session
	// starts would be later than a reset committed during the password
	// check, and keep alive a session made with the old password.
	UserVersion time.Time `json:"v"`
}

// For reports whether the session still stands for the user as it is now,
// whose last change was at updatedAt: nothing changed the user since the
// sign-in read it. A session sealed before sessions had a version (zero)
// does not: its user signs in again.
func (s *Session) For(updatedAt time.Time) bool {
	return !s.UserVersion.IsZero() && s.UserVersion.Equal(updatedAt)
}

// EndedSessions remembers sessions signed out before they expired (the
// store's EndSession and SessionEnded).
type EndedSessions interface {
	EndSession(ctx context.Context, id string, expiresAt time.Time) error
	SessionEnded(ctx context.Context, id string) (bool, error)
}

// Sessions issues and reads session cookies.
//
// Signing out ends the session on the server, not only in the browser: a
// sealed cookie stays valid to the cryptography until it expires, so a copy
// taken before sign-out would otherwise still work. Each session has an id;
// End records it in Ended until the session's expiry, and Read refuses ended
// ids. Only sessions ended early are stored, each until its expiry, so the
// table stays small; a per-user "valid after" time would have been simpler
// still but signs the user out on every device at once.
type Sessions struct {
	// Name of the cookie, e.g. "scopegate_console".
	Name string
	// Path the cookie is sent for.
	Path string
	// Lifetime of a session.
	TTL    time.Duration
	Sealer *secret.Sealer
	// Ended keeps the ids of signed-out sessions. Required.
	Ended EndedSessions
}

var errNoEnded = errors.New("web.Sessions needs Ended to sign sessions out")

// Start signs a user in: a fresh session (new id, new CSRF token) in a
// cookie that is HttpOnly, SameSite=Lax and Secure whenever the browser came
// over TLS (see IsTLS). userVersion is the user's UpdatedAt read with the
// password hash that was checked (Session.UserVersion).
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, userID, tenantID string, userVersion time.Time) (*Session, error) {
	sess := &Session{ID: secret.NewToken(16), UserID: userID, TenantID: tenantID, CSRF: secret.NewToken(24),
		Expires: time.Now().Add(s.TTL).UTC(), UserVersion: userVersion}
	if err := setSealedCookie(w, r, s.Sealer, s.Name, s.Path, "session:"+s.Name, sess, sess.Expires); err != nil {
		return nil, err
	}
	return sess, nil
}

// Read returns the request's valid session, or nil: none, unreadable,
// expired, without an id (sealed before sessions had one) or signed out.
// The error is the database's.
func (s *Sessions) Read(r *http.Request) (*Session, error) {
	sess := s.open(r)
	if sess == nil {
		return nil, nil
	}
	if s.Ended == nil {
		return nil, errNoEnded
	}
	ended, err := s.Ended.SessionEnded(r.Context(), sess.ID)
	if err != nil || ended {
		return nil, err
	}
	return sess, nil
}

// open unseals the cookie's session, or returns nil.
func (s *Sessions) open(r *http.Request) *Session {
	var sess Session
	if !openSealedCookie(r, s.Sealer, s.Name, "session:"+s.Name, &sess) ||
		time.Now().After(sess.Expires) || sess.UserID == "" || sess.ID == "" {
		return nil
	}
	return &sess
}

// End signs the browser out: the session's id is recorded as ended, so the
// cookie is refused wherever it is presented, and the cookie is expired.
// The cookie is cleared even when recording fails; the error says the
// session may live on.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: cookieName(r, s.Name), Value: "", Path: s.Path, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsTLS(r)})
	sess := s.open(r)
	if sess == nil {
		return nil
	}
	if s.Ended == nil {
		return errNoEnded
	}
	return s.Ended.EndSession(r.Context(), sess.ID, sess.Expires)
}

// setSealedCookie sets cookie name, on path until expires, to v as JSON
// sealed under aad (so it can be neither read nor forged, nor passed off as
// another cookie): HttpOnly, SameSite=Lax and Secure whenever the browser
// came over TLS (see IsTLS).
func setSealedCookie(w http.ResponseWriter, r *http.Request, s *secret.Sealer, name, path, aad string, v any, expires time.Time) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := s.Seal(plain, []byte(aad))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r, name), Value: base64.RawURLEncoding.EncodeToString(sealed), Path: path,
		Expires: expires, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsTLS(r),
	})
	return nil
}

// cookieName is the name cookie name is set and read under: over TLS with
// the __Secure- prefix, which a browser accepts only from a secure origin
// with the Secure attribute. Without it a network attacker answering a plain
// http:// request for the host could plant a session of its own (its own
// sign-in's cookie), and the victim's next authorization would be granted
// silently to the attacker's account (a login CSRF). Cookies do not tell
// ports or, through Domain, sibling hosts apart, so an https page of those
// still could: keep the gateway's host to itself.
func cookieName(r *http.Request, name string) string {
	if IsTLS(r) {
		return "__Secure-" + name
	}
	return name
}

// openSealedCookie reads into v the request's cookie name set by
// setSealedCookie under aad; false when it is missing or does not open.
func openSealedCookie(r *http.Request, s *secret.Sealer, name, aad string, v any) bool {
	c, err := r.Cookie(cookieName(r, name))
	if err != nil {
		return false
	}
	// Strict: one spelling per cookie (set unused trailing bits would
	// otherwise decode to the same sealed bytes).
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(c.Value)
	if err != nil {
		return false
	}
	plain, err := s.Open(sealed, []byte(aad))
	return err == nil && json.Unmarshal(plain, v) == nil
}

// ErrCSRF means a form post failed the CSRF check. Its message is what the
// refusal page says, to someone who may just have been attacked: what
// happened, that nothing changed, and what to do only if the post was theirs.
var ErrCSRF = errors.New("This request came from another site, or from a page left open too long, so it was refused and nothing was changed. " +
	"If you did not just submit a form here, there is nothing to do. If you did, open the page again from this site and submit it there.")

// CheckCSRF verifies a state-changing form post: the hidden "csrf" field must
// equal the session's token (constant time) and, when the browser names an
// Origin (or Referer), it must be this very host.
func CheckCSRF(r *http.Request, sess *Session) error {
	if sess == nil || sess.CSRF == "" {
		return ErrCSRF
	}
	if !SameOrigin(r) {
		return ErrCSRF
	}
	got := r.PostFormValue("csrf")
	if subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
		return ErrCSRF
	}
	return nil
}

// SameOrigin reports whether the request's Origin (or, failing that,
// Referer) header, when present, names the host the request was sent to,
// and, when the request came over HTTPS (IsTLS), with the https scheme: a
// page served over plain http on the same host (which a network attacker
// can write) is another origin. A plain-http request with an https origin
// passes: a TLS-terminating proxy Caddy is not told to trust looks so.
func SameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		if src == "null" {
			return false
		}
		src = r.Header.Get("Referer")
		if src == "" {
			return true // non-browser clients; the token check still applies
		}
	}
	u, err := url.Parse(src)
	if err != nil {
		return false
	}
	if IsTLS(r) && !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}
