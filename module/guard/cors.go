package guard

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/rs/cors"
)

// CORS lets browser pages of other origins call the guarded route with a
// bearer token. A browser sends such a call's preflight (an OPTIONS request
// with Access-Control-Request-Method) without the token, so a guard alone
// answers it 401 and the page never sends the call; Caddy has no CORS
// handler of its own. With cors set, the first guard of the route answers
// the preflights of the origins listed itself (the upstream never sees
// them), and marks the answers to their calls, refusals included, as
// readable by the page. The rules themselves (origin matching, the
// preflight's method and header checks, Vary) are github.com/rs/cors's.
//
// Credentials (cookies, HTTP authentication) are never allowed: the route
// takes bearer tokens, which the page sends itself, and a cookie the browser
// would add on its own is what CORS exists to keep from other origins.
type CORS struct {
	// Origins allowed to call, exactly as browsers send them
	// (scheme://host[:port]); one "*" in a host matches any characters
	// (https://*.example.com), and "*" alone any origin.
	Origins []string `json:"origins,omitempty"`
	// Methods a page may use. Default: GET, HEAD, POST, PUT, PATCH, DELETE.
	// The guard's scopes apply to each call as to any other request.
	Methods []string `json:"methods,omitempty"`
	// Request headers a page may send. Default: any ("*"); the guard removes
	// forged identity headers from every request whatever the origin.
	Headers []string `json:"headers,omitempty"`
	// Response headers the page may read besides the CORS-safelisted ones.
	// WWW-Authenticate is always added, so that a page can tell an expired
	// token (401 invalid_token: refresh) from a missing scope.
	ExposeHeaders []string `json:"expose_headers,omitempty"`
	// How long a browser may reuse a preflight's answer. Default: 10m.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
}

// defaultCORSMethods are the methods a page may use unless methods says.
var defaultCORSMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

const defaultCORSMaxAge = 10 * time.Minute

// validate refuses origins no browser sends, which would match nothing or,
// with a path, look as if they restricted one.
func (c *CORS) validate() error {
	if len(c.Origins) == 0 {
		return fmt.Errorf("cors: name the origins allowed to call (scheme://host[:port], or * for any)")
	}
	for _, o := range c.Origins {
		if err := validOrigin(o); err != nil {
			return fmt.Errorf("cors: origin %q: %v", o, err)
		}
	}
	for _, m := range c.Methods {
		if !isToken(m) || m == "" {
			return fmt.Errorf("cors: method %q is not a method name", m)
		}
	}
	for _, h := range append(c.Headers, c.ExposeHeaders...) {
		if (!isToken(h) || h == "") && h != "*" {
			return fmt.Errorf("cors: %q is not a header name", h)
		}
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("cors: max_age must not be negative")
	}
	return nil
}

// validOrigin accepts "*" and the serialized origins browsers send:
// http or https, a host, maybe a port, nothing else. "null" (sandboxed
// frames, file: pages) is refused: any page can make itself one.
func validOrigin(o string) error {
	if o == "*" {
		return nil
	}
	if strings.Count(o, "*") > 1 {
		return fmt.Errorf("at most one * per origin")
	}
	u, err := url.Parse(strings.Replace(o, "*", "wildcard", 1))
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must start with http:// or https://")
	}
	if u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return fmt.Errorf("an origin is scheme://host[:port], with no path, query or user")
	}
	if strings.Contains(o, "*") && !strings.Contains(u.Hostname(), "wildcard") {
		return fmt.Errorf("* may stand only in the host")
	}
	return nil
}

// corsRules are a provisioned CORS: rs/cors's handler and the response
// headers a call from an allowed origin gets.
type corsRules struct {
	handler *cors.Cors
}

func newCORSRules(c *CORS) *corsRules {
	if len(c.Origins) == 0 {
		return nil // rs/cors would allow every origin; Validate refuses this
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	headers := c.Headers
	if len(headers) == 0 {
		headers = []string{"*"}
	}
	maxAge := time.Duration(c.MaxAge)
	if maxAge == 0 {
		maxAge = defaultCORSMaxAge
	}
	return &corsRules{handler: cors.New(cors.Options{
		AllowedOrigins: c.Origins,
		AllowedMethods: methods,
		AllowedHeaders: headers,
		ExposedHeaders: append([]string{"WWW-Authenticate"}, c.ExposeHeaders...),
		MaxAge:         int(maxAge / time.Second),
	})}
}

// isPreflight reports whether r is a CORS preflight (Fetch standard): what
// a browser sends before a call it must ask about, without credentials.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// answerPreflight answers r when it is a preflight from an allowed origin,
// and reports whether it did. Preflights of other origins, and OPTIONS
// requests that are no preflight, are requests like any other: they need a
// token.
func (c *corsRules) answerPreflight(w http.ResponseWriter, r *http.Request) bool {
	if c == nil || !isPreflight(r) || !c.handler.OriginAllowed(r) {
		return false
	}
	c.handler.HandlerFunc(w, r) // the answer and its status, 204
	return true
}

// markCall sets, on a call from an allowed origin, the headers that let the
// page read the answer, whoever writes it: the guard's refusal, the errors
// route or the upstream. It returns the writer to hand the next handler:
// one that keeps the upstream's own Access-Control-* headers from doubling
// these (a browser refuses an answer with two Access-Control-Allow-Origin
// values), or w itself when r is no such call.
func (c *corsRules) markCall(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if c == nil || r.Header.Get("Origin") == "" {
		return w
	}
	// A preflight here is one of an origin not allowed (the others were
	// answered), which rs/cors would answer too: it gets nothing.
	if !isPreflight(r) {
		c.handler.HandlerFunc(w, r) // sets the headers when the origin and method are allowed
	}
	ours := map[string][]string{}
	for k, v := range w.Header() {
		if isCORSHeader(k) {
			ours[k] = v
		}
	}
	return &corsWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, ours: ours}
}

// isCORSHeader reports whether the response header k is one of CORS's.
func isCORSHeader(k string) bool {
	return len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-")
}

// corsWriter puts the guard's CORS headers back over whatever the handlers
// after it added, when the answer's header is written.
type corsWriter struct {
	*caddyhttp.ResponseWriterWrapper
	ours    map[string][]string
	written bool
}

func (w *corsWriter) WriteHeader(status int) {
	// 1xx answers (103 Early Hints) come before the final one, which is
	// the one a browser checks.
	if !w.written && status >= http.StatusOK {
		w.written = true
		h := w.Header()
		for k := range h {
			if isCORSHeader(k) {
				delete(h, k)
			}
		}
		for k, v := range w.ours {
			h[k] = v
		}
	}
	w.ResponseWriterWrapper.WriteHeader(status)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriterWrapper.Write(b)
}

// ReadFrom writes the header first: the wrapper's own ReadFrom goes
// straight to the connection's.
func (w *corsWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriterWrapper.ReadFrom(r)
}
