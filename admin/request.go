package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// maxBody bounds request bodies: the largest legitimate one (a client with
// many redirect URIs) is a few KiB.
const maxBody = 64 << 10

// Listing bounds: store.Page would silently turn a larger limit into 50,
// so the API refuses it instead of answering with a limit it did not use.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// decodeBody reads the request's JSON object into dst, strictly: JSON
// content type, at most maxBody bytes, no unknown members, nothing after the
// object. An empty body is refused unless optional (dst is then untouched).
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	unsupported := newProblem(http.StatusUnsupportedMediaType, "send the body as application/json")
	if web.ContentCoded(r) {
		w.Header().Set("Accept-Encoding", "identity")
		return newProblem(http.StatusUnsupportedMediaType, "the body must not be content-coded (Content-Encoding): send the JSON as it is")
	}
	if len(r.Header["Content-Type"]) > 1 {
		// A proxy in front may read the other one, as with a repeated
		// Authorization header or JSON member.
		return newProblem(http.StatusBadRequest, "send one Content-Type header")
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return unsupported
		}
		if patchFormats[mt] {
			// Their rules are not this API's: merge patch removes a member
			// sent as null, which keeps it here; JSON Patch is a list of
			// operations.
			return newProblem(http.StatusUnsupportedMediaType, "%s is not supported: send application/json "+
				"(a member left out or null keeps its value)", mt)
		}
		if cs, ok := params["charset"]; ok && !utf8Charsets[strings.ToLower(cs)] {
			// JSON is UTF-8 (RFC 8259 §8.1): a body said to be in
			// another charset would be read as something it is not.
			return newProblem(http.StatusUnsupportedMediaType, "send the JSON in UTF-8 (charset %q is not)", cs)
		}
	}
	if r.ContentLength > maxBody {
		return newProblem(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxBody)
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return emptyBody(optional)
	}
	if ct == "" && r.ContentLength > 0 {
		return unsupported
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return jsonProblem(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	switch {
	case errors.Is(err, io.EOF):
		return emptyBody(optional)
	case ct == "":
		return unsupported // a body of unknown length, and untyped
	case err != nil:
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newProblem(http.StatusBadRequest, "the body must hold one JSON object and nothing after it")
	}
	if p := strictMembers(body, dst); p != nil {
		return p
	}
	return nil
}

// patchFormats are the +json patch media types, whose meaning differs from
// the plain JSON object every route reads.
var patchFormats = map[string]bool{"application/merge-patch+json": true, "application/json-patch+json": true}

// utf8Charsets are the charset parameters a JSON body may name: UTF-8, and
// ASCII, a subset of it.
var utf8Charsets = map[string]bool{"utf-8": true, "utf8": true, "us-ascii": true}

func emptyBody(optional bool) error {
	if optional {
		return nil
	}
	return newProblem(http.StatusBadRequest, "a JSON body is required")
}

// jsonProblem turns a decoding error into the problem the caller can act
// on, naming the member when there is one.
func jsonProblem(err error) *problem {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return newProblem(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxBody)
	case errors.As(err, &syntax):
		return newProblem(http.StatusBadRequest, "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, "the body is not valid JSON (it ends early)")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return newProblem(http.StatusBadRequest, "the body must be a JSON object")
		}
		var f fieldErrors
		f.add(typeErr.Field, "must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value)
		return f.err().(*problem)
	}
	// encoding/json has no type for this one; its text is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		var f fieldErrors
		f.add(name, "unknown field")
		return f.err().(*problem)
	}
	return newProblem(http.StatusBadRequest, "the body is not valid JSON")
}

// jsonKind names a Go type the way a JSON author thinks of it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// writeJSON answers with v. Admin answers may hold secrets, so nothing on
// the way may store them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	// The bodies hold names callers chose: never sniffed as a page.
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// list is one page of a listing.
type list[T any] struct {
	Items  []T   `json:"items"`
	Total  int64 `json:"total"`
	Offset int   `json:"offset"`
	Limit  int   `json:"limit"`
}

// newList converts rows of one page with view.
func newList[R, T any](rows []R, total int64, p store.Page, view func(*R) T) list[T] {
	items := make([]T, 0, len(rows))
	for i := range rows {
		items = append(items, view(&rows[i]))
	}
	return list[T]{Items: items, Total: total, Offset: p.Offset, Limit: p.Limit}
}

// writeTenantList answers a listing of one tenant's rows: the page
// ?offset= and ?limit= ask for, of the caller's tenant (a super admin may
// name another with ?tenant_id=, or none for all), fetched by list and
// shown with view.
func writeTenantList[R, T any](w http.ResponseWriter, r *http.Request, c *caller,
	list func(ctx context.Context, tenant string, p store.Page) ([]R, int64, error), view func(*R) T) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(r, c)
	if err != nil {
		return err
	}
	rows, total, err := list(r.Context(), tenant, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(rows, total, p, view))
	return nil
}

// queryProblem refuses a query string the handlers would read only in
// part: URL.Query drops a malformed pair (a stray %, a ';'), so
// ?tenant_id=acme%zz acted on the caller's own tenant and ?limit=%zz listed
// the default 50, and of a repeated parameter the handlers read the first.
func queryProblem(raw string) *problem {
	if web.TooManyParams(raw) {
		return newProblem(http.StatusBadRequest, "the query string has more than %d parameters", web.MaxParams)
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return newProblem(http.StatusBadRequest, "the query string is malformed (a stray %% or a ';'): percent-encode its values")
	}
	for k, v := range q {
		if len(v) > 1 {
			if len(k) > 40 {
				k = k[:40] + "…"
			}
			return newProblem(http.StatusBadRequest, "query parameter %q is repeated", k)
		}
	}
	return nil
}

// pageOf reads ?offset= and ?limit=.
func pageOf(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: defaultLimit}
	var f fieldErrors
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			f.add("offset", "must be a whole number ≥ 0")
		}
		p.Offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			f.add("limit", "must be a whole number from 1 to %d", maxLimit)
		}
		p.Limit = n
	}
	return p, f.err()
}

// tenantFilter returns the tenant a listing is limited to ("" for every
// tenant). Tenant admins always see their own tenant only.
func tenantFilter(r *http.Request, c *caller) (string, error) {
	return tenantFilterParam(r, c, "tenant_id")
}

// tenantFilterParam is tenantFilter with the tenant in query parameter param.
func tenantFilterParam(r *http.Request, c *caller, param string) (string, error) {
	q := r.URL.Query()
	want := q.Get(param)
	if !c.super {
		if q.Has(param) && want != c.tenant {
			return "", forbidden("a tenant admin can only list its own tenant")
		}
		return c.tenant, nil
	}
	if q.Has(param) && !validID(want) {
		var f fieldErrors
		f.add(param, "is not a valid id")
		return "", f.err()
	}
	return want, nil
}

// validID reports whether s can be an id at all. Ids arrive unchecked in
// paths, queries and bodies, and PostgreSQL fails a query holding a NUL
// byte or invalid UTF-8: bad input must be a 404 or a 400, never a 500.
func validID(s string) bool {
	return s != "" && len(s) <= 64 && printable(s)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// checkText validates a free-text field: at most limit characters (the
// column's size), no control characters; required fields must not be blank.
func checkText(f *fieldErrors, field, s string, limit int, required bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		f.add(field, "is required")
	case utf8.RuneCountInString(s) > limit:
		f.add(field, "must be at most %d characters", limit)
	case !printable(s):
		f.add(field, "must not contain control characters")
	}
}

// clientIP is the caller's address for the audit log: Caddy's client_ip
// (which honours trusted_proxies) when set, else r.RemoteAddr's host.
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if ip == "" {
		ip = r.RemoteAddr
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
	}
	if len(ip) > 64 { // the audit column's size
		ip = ip[:64]
	}
	return ip
}

// dedupe drops repeated entries, keeping the first-seen order.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
