package issuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/web"
)

// MaxBodyBytes bounds a token request body.
const MaxBodyBytes = 64 << 10

// Request is a parsed token request.
type Request struct {
	// Params are the body parameters, each present at most once.
	Params map[string]string
	// ClientID and ClientSecret come from HTTP Basic or the body.
	ClientID     string
	ClientSecret string
	// BasicAuth is true when the client authenticated with HTTP Basic.
	BasicAuth bool
	HTTP      *http.Request
}

// tokenParams are the parameters the token endpoint reads by name: its own
// and every registered grant's (Grant.Params), known once every init ran.
var tokenParams = sync.OnceValue(func() map[string]bool { return paramsOf(grants) })

// paramsOf is the endpoint's own parameters and those of the grants.
func paramsOf(grants map[string]Grant) map[string]bool {
	names := map[string]bool{"grant_type": true, "scope": true, "client_id": true, "client_secret": true}
	for _, g := range grants {
		for _, n := range g.Params() {
			names[n] = true
		}
	}
	return names
}

// readsTokenParam reports whether the token endpoint reads the parameter
// name, so that it must not be repeated: its grants', the spellings of
// user_id (userParamMisspelt) and the claims scopes require.
func readsTokenParam(cat *scope.Catalogue) func(string) bool {
	params := tokenParams()
	return func(name string) bool { return params[name] || userIDSpelling(name) || cat.IsClaim(name) }
}

// readsTokenOf reports whether revocation and introspection (RFC 7009,
// RFC 7662) read the parameter name.
func readsTokenOf(name string) bool {
	switch name {
	case "token", "token_type_hint", "client_id", "client_secret":
		return true
	}
	return false
}

// Get returns a parameter ("" when absent).
func (r *Request) Get(name string) string { return r.Params[name] }

// Alias returns the parameter present among names, spellings of the same
// parameter (Nitro's userId for user_id), "" when none is. Two spellings
// with the same value are one parameter sent for compatibility; with
// different values (an empty one included) they are refused like a repeated
// parameter: which one the client meant is unknowable, and an empty one
// must not hide the other.
func (r *Request) Alias(names ...string) (string, *oauth.Error) {
	value, found := "", ""
	for _, n := range names {
		v, ok := r.Params[n]
		if !ok {
			continue
		}
		if found != "" && v != value {
			return "", oauth.ErrInvalidRequest("send one of the parameters %s and %s, not both", safeName(found), safeName(n))
		}
		value, found = v, n
	}
	return value, nil
}

// ParseRequest reads a token request: POST only; a form-urlencoded or JSON
// body of at most 64 KiB; client credentials from HTTP Basic (§2.3.1) or
// the body, never both. A parameter the endpoint reads (reads says which;
// nil: all) must not be repeated (RFC 6749 §3.2); one it does not read is
// ignored however often it comes (§3.1, §3.2: RFC 8707 sends resource
// more than once, say), and left out of Params.
func ParseRequest(w http.ResponseWriter, r *http.Request, reads func(name string) bool) (*Request, *oauth.Error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, oauth.New(oauth.InvalidRequest, http.StatusMethodNotAllowed, "this endpoint accepts POST only")
	}
	if reads == nil {
		reads = func(string) bool { return true }
	}
	params, oerr := readBody(w, r, reads)
	if oerr != nil {
		return nil, oerr
	}
	req := &Request{Params: params, HTTP: r}
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return nil, oauth.ErrInvalidRequest("the Authorization header is repeated")
	}
	_, bodySecret := params["client_secret"]
	if len(auth) == 1 {
		// Checked first: a leftover "Bearer" header beside credentials in
		// the body is a wrong scheme, not a second method.
		if scheme, _, _ := strings.Cut(auth[0], " "); !strings.EqualFold(scheme, "Basic") {
			return nil, oauth.ErrInvalidClient("the Authorization header must use the Basic scheme (or send client_id and client_secret in the body without one)")
		}
		if bodySecret {
			return nil, oauth.ErrInvalidRequest("use one client authentication method: HTTP Basic or client_secret in the body, not both")
		}
		id, secret, err := parseBasic(auth[0])
		if err != nil {
			return nil, oauth.ErrInvalidClient("%v", err)
		}
		if bodyID, ok := params["client_id"]; ok && bodyID != id {
			return nil, oauth.ErrInvalidRequest("client_id in the body differs from the one in the Authorization header")
		}
		req.ClientID, req.ClientSecret, req.BasicAuth = id, secret, true
		return req, nil
	}
	req.ClientID = params["client_id"]
	req.ClientSecret = params["client_secret"]
	return req, nil
}

func readBody(w http.ResponseWriter, r *http.Request, reads func(string) bool) (map[string]string, *oauth.Error) {
	if web.ContentCoded(r) {
		w.Header().Set("Accept-Encoding", "identity")
		return nil, oauth.New(oauth.InvalidRequest, http.StatusUnsupportedMediaType,
			"the request body must not be content-coded (Content-Encoding): send the parameters as they are")
	}
	if len(r.Header["Content-Type"]) > 1 {
		// A layer in front may read the body as the other type.
		return nil, oauth.ErrInvalidRequest("send one Content-Type header")
	}
	ct := r.Header.Get("Content-Type")
	mediaType := ""
	if ct != "" {
		var err error
		if mediaType, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, oauth.ErrInvalidRequest("the Content-Type header is malformed")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, oauth.New(oauth.InvalidRequest, http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
		}
		return nil, oauth.ErrInvalidRequest("the request body could not be read")
	}
	switch mediaType {
	case "application/x-www-form-urlencoded", "":
		// A request copied from a document (Bits shows its body as a line
		// of its own) may end in a line break, which no value ends in.
		return parseForm(strings.TrimRight(string(body), "\r\n"), reads)
	case "application/json":
		return parseJSON(body, reads)
	}
	return nil, oauth.New(oauth.InvalidRequest, http.StatusUnsupportedMediaType,
		"send the parameters as application/x-www-form-urlencoded or application/json, not %s", mediaType)
}

func parseForm(body string, reads func(string) bool) (map[string]string, *oauth.Error) {
	if web.TooManyParams(body) {
		return nil, tooManyParams()
	}
	values, err := url.ParseQuery(body)
	if err != nil {
		return nil, oauth.ErrInvalidRequest("the form body is malformed")
	}
	out := make(map[string]string, len(values))
	for k, v := range values {
		if len(v) > 1 {
			if reads(k) {
				return nil, oauth.ErrInvalidRequest("parameter %s is repeated", safeName(k))
			}
			continue
		}
		if v[0] != "" { // sent without a value: as if omitted (RFC 6749 §3.2)
			out[k] = v[0]
		}
	}
	return out, nil
}

func tooManyParams() *oauth.Error {
	return oauth.ErrInvalidRequest("the request has more than %d parameters", web.MaxParams)
}

// parseJSON accepts an object whose members are the parameters: a string is
// its value, numbers, true and false are taken as their text, null as
// absent, and "scope" may be an array of strings. Any other object or array
// is taken as its compact JSON text, so an unrecognized parameter is
// ignored whatever its type (RFC 6749 §3.2) and a recognized one holding
// it fails like any wrong value. As in a form, no key the endpoint reads
// may appear twice (encoding/json would silently keep the last one), and
// one it does not read is ignored, repeated or not.
func parseJSON(body []byte, reads func(string) bool) (map[string]string, *oauth.Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, oauth.ErrInvalidRequest("the JSON body is malformed")
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		if len(seen) >= web.MaxParams {
			return nil, tooManyParams()
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, oauth.ErrInvalidRequest("the JSON body is malformed")
		}
		k, _ := tok.(string) // object keys are always strings
		repeated := seen[k]
		if repeated && reads(k) {
			return nil, oauth.ErrInvalidRequest("parameter %s is repeated", safeName(k))
		}
		seen[k] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, oauth.ErrInvalidRequest("the JSON body is malformed")
		}
		if repeated {
			delete(out, k)
			continue
		}
		switch raw[0] {
		case '"':
			var v string
			_ = json.Unmarshal(raw, &v) // a valid string: the decoder read it
			if v != "" {                // as in a form, an empty value is no value
				out[k] = v
			}
		case 'n':
			// JSON null: treated as absent
		case '[', '{':
			if k == "scope" {
				joined, ok := scopeArray(raw)
				if !ok {
					return nil, oauth.ErrInvalidRequest("scope must be a string or an array of scope names, one per element (at most %d)", web.MaxParams)
				}
				out[k] = joined
				continue
			}
			var compact bytes.Buffer
			_ = json.Compact(&compact, raw)
			out[k] = compact.String()
		default: // a number, true or false: its text
			out[k] = string(raw)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, oauth.ErrInvalidRequest("the JSON body is malformed")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, oauth.ErrInvalidRequest("the JSON body has trailing data")
	}
	return out, nil
}

// scopeArray joins a JSON array of strings with spaces; ok is false for
// anything else (an object, an element that is not a string, or not one
// scope name: empty, or holding a space that would make it two).
func scopeArray(raw json.RawMessage) (joined string, ok bool) {
	// At most web.MaxParams names, counted while decoding, as a form's
	// parameters are: 16,000 one-letter names fit in 64 KiB and cost 20
	// times an ordinary request to check, before any credential.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return "", false
	}
	var parts []string
	for dec.More() {
		var s string
		if len(parts) == web.MaxParams || dec.Decode(&s) != nil {
			return "", false
		}
		if names, err := scope.Parse(s); err != nil || len(names) != 1 || names[0] != s {
			return "", false
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " "), true
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))".
func parseBasic(header string) (string, string, error) {
	scheme, payload, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", errors.New("the Authorization header must use the Basic scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", errors.New("the Basic credentials are not valid base64")
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("the Basic credentials have no colon between id and secret")
	}
	// RFC 6749 §2.3.1: both parts are form-urlencoded before encoding.
	if id, err = url.QueryUnescape(id); err != nil {
		return "", "", errors.New("the client id is not form-urlencoded")
	}
	if secret, err = url.QueryUnescape(secret); err != nil {
		return "", "", errors.New("the client secret is not form-urlencoded")
	}
	if id == "" {
		return "", "", errors.New("the client id is empty")
	}
	return id, secret, nil
}

// safeName keeps parameter names printable and short in error messages.
func safeName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
