// Package oauth holds the protocol errors Scopegate answers with: RFC 6749
// §5.2 at the token endpoint and RFC 6750 §3 at protected resources.
package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Error codes from RFC 6749 §5.2, RFC 6750 §3.1 and RFC 7009 §2.2.1.
const (
	InvalidRequest       = "invalid_request"
	InvalidClient        = "invalid_client"
	InvalidGrant         = "invalid_grant"
	UnauthorizedClient   = "unauthorized_client"
	UnsupportedGrantType = "unsupported_grant_type"
	InvalidScope         = "invalid_scope"
	InvalidToken         = "invalid_token"
	InsufficientScope    = "insufficient_scope"
	AccessDenied         = "access_denied"
	ServerError          = "server_error"
	UnsupportedTokenType = "unsupported_token_type"
	TemporarilyUnavail   = "temporarily_unavailable"
)

// Error is a protocol error with the HTTP status it is answered with.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Scope lists the scopes that would have been enough (insufficient_scope).
	Scope  string `json:"scope,omitempty"`
	Status int    `json:"-"`
	// Header holds extra response headers (for example Retry-After).
	Header http.Header `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// New returns an error with code, status and a formatted description. The
// description keeps to the characters RFC 6749 §5.2 (and §4.1.2.1, RFC 6750
// §3) allow in error_description, %x20-21 / %x23-5B / %x5D-7E: a quote, a
// backslash, a control or non-ASCII character (from a %q of the caller's
// input, say) becomes an apostrophe.
// A description longer than maxDescription is cut there, with "...": a
// value the caller sent (a scope of 60 KB) is not echoed back whole, in the
// body and again in WWW-Authenticate.
func New(code string, status int, format string, args ...any) *Error {
	d := quote(fmt.Sprintf(format, args...))
	if len(d) > maxDescription {
		d = d[:maxDescription-3] + "..."
	}
	return &Error{Code: code, Status: status, Description: d}
}

// maxDescription bounds error_description (its characters are ASCII, so a
// cut never splits one).
const maxDescription = 300

// ErrInvalidRequest and friends build the token endpoint's errors with the
// statuses RFC 6749 §5.2 gives them.
func ErrInvalidRequest(format string, args ...any) *Error {
	return New(InvalidRequest, http.StatusBadRequest, format, args...)
}

// ErrInvalidClient is answered with 401 and a Basic challenge.
func ErrInvalidClient(format string, args ...any) *Error {
	return New(InvalidClient, http.StatusUnauthorized, format, args...)
}

// ErrInvalidGrant reports a bad or expired grant (code, refresh token, user).
func ErrInvalidGrant(format string, args ...any) *Error {
	return New(InvalidGrant, http.StatusBadRequest, format, args...)
}

// ErrInvalidScope reports a scope that is unknown or not allowed.
func ErrInvalidScope(format string, args ...any) *Error {
	return New(InvalidScope, http.StatusBadRequest, format, args...)
}

// ErrUnauthorizedClient reports a grant or option the client may not use.
func ErrUnauthorizedClient(format string, args ...any) *Error {
	return New(UnauthorizedClient, http.StatusBadRequest, format, args...)
}

// ErrServer hides an internal failure behind a generic description.
func ErrServer() *Error {
	return New(ServerError, http.StatusInternalServerError, "the server could not complete the request")
}

// ErrUnavailable answers a request the server cannot serve just now (its
// database is unavailable) with 503 temporarily_unavailable and the
// Retry-After header given (seconds).
func ErrUnavailable(retryAfter string) *Error {
	e := New(TemporarilyUnavail, http.StatusServiceUnavailable, "the service is temporarily unavailable; try again shortly")
	e.Header = http.Header{"Retry-After": {retryAfter}}
	return e
}

// WriteJSON answers a token-endpoint style error (RFC 6749 §5.2).
func WriteJSON(w http.ResponseWriter, e *Error, realm string) {
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	if e.Code == InvalidClient {
		h.Set("WWW-Authenticate", `Basic realm="`+quote(realm)+`"`)
	}
	writeBody(w, e)
}

// WriteBearer answers a protected-resource error (RFC 6750 §3) with its
// WWW-Authenticate challenge and the same fields as a JSON body.
func WriteBearer(w http.ResponseWriter, e *Error, realm string) {
	w.Header().Set("WWW-Authenticate", BearerChallenge(e, realm))
	writeBody(w, e)
}

// BearerChallenge is the WWW-Authenticate value of a protected-resource
// error (RFC 6750 §3).
func BearerChallenge(e *Error, realm string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quote(realm))
	b.WriteString(`", error="`)
	b.WriteString(e.Code)
	b.WriteByte('"')
	if e.Description != "" {
		b.WriteString(`, error_description="`)
		b.WriteString(quote(e.Description))
		b.WriteByte('"')
	}
	if e.Scope != "" {
		b.WriteString(`, scope="`)
		b.WriteString(quote(e.Scope))
		b.WriteByte('"')
	}
	return b.String()
}

func writeBody(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// quote makes s safe inside a quoted-string: RFC 6750 limits error_description
// to printable ASCII without '"' and '\'.
func quote(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}
