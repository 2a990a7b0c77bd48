package web

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxParams bounds the parameters of a request's query or form body. The
// forms and OAuth requests here carry a dozen at most, while parsing one
// costs about as much as a whole ordinary request: 64 KB of "a=&" pairs
// cost a caller 3 to 8 ms of CPU per request (token, revocation,
// introspection, sign-in and console posts), checked before any credential.
const MaxParams = 100

// ErrTooManyParams refuses a query or form body past MaxParams.
var ErrTooManyParams = errors.New("the request has too many parameters")

// TooManyParams reports whether a query string or form body holds more
// than MaxParams parameters (counting separators, before any parsing).
func TooManyParams(encoded string) bool {
	return strings.Count(encoded, "&") >= MaxParams
}

// ParseForm is r.ParseForm with the body bounded to maxBytes and the query
// and a form body to MaxParams parameters each (ErrTooManyParams).
func ParseForm(w http.ResponseWriter, r *http.Request, maxBytes int64) error {
	if TooManyParams(r.URL.RawQuery) {
		return ErrTooManyParams
	}
	if r.Body != nil && r.Body != http.NoBody {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
			if err != nil {
				return err
			}
			if bytes.Count(body, []byte("&")) >= MaxParams {
				return ErrTooManyParams
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
		}
	}
	return r.ParseForm()
}
