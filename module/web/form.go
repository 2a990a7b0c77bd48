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

// ErrContentCoded refuses a body sent with a content coding (ContentCoded).
var ErrContentCoded = errors.New("the request body is content-coded (Content-Encoding): send it as it is")

// ContentCoded reports whether r's body carries a content coding other than
// identity (RFC 9110 §8.4). Nothing here decodes one: read as it is, a
// "gzip" body would be parsed as parameters, or a body labelled gzip but
// sent plain accepted under a label every proxy on the way reads otherwise.
// Such a request is refused: 415 with Accept-Encoding: identity at the
// token, revocation and introspection endpoints and the admin API, the
// error page at the browser forms (ParseForm).
func ContentCoded(r *http.Request) bool {
	for _, v := range r.Header.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return true
			}
		}
	}
	return false
}

// ParseForm is r.ParseForm with the body bounded to maxBytes and the query
// and a form body to MaxParams parameters each (ErrTooManyParams); a
// content-coded body is ErrContentCoded.
func ParseForm(w http.ResponseWriter, r *http.Request, maxBytes int64) error {
	if TooManyParams(r.URL.RawQuery) {
		return ErrTooManyParams
	}
	if ContentCoded(r) {
		return ErrContentCoded
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
