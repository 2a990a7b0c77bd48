// Package cors answers browsers' CORS preflights and marks the answers to
// the calls of allowed origins as readable, for the guard and the token
// endpoints. The rules themselves are github.com/rs/cors's.
package cors

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	rscors "github.com/rs/cors"
	"golang.org/x/net/http/httpguts"
)

// Config lets browser pages of other origins call a route with a bearer
// token (a guarded route), or a token endpoint of a public client. A browser sends such a call's preflight (an OPTIONS request
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
type Config struct {
	// Origins allowed to call, exactly as browsers send them
	// (scheme://host[:port]); "*" as the first label of the host stands
	// for any subdomains (https://*.example.com), and "*" alone for any
	// origin.
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
	// How long a browser may reuse a preflight's answer, in whole seconds;
	// 0 for not at all (a removed origin then stops at once). Default: 10m.
	MaxAge *caddy.Duration `json:"max_age,omitempty"`
}

// defaultCORSMethods are the methods a page may use unless methods says.
var defaultCORSMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

const defaultCORSMaxAge = 10 * time.Minute

// validate refuses origins no browser sends, which would match nothing or,
// with a path, look as if they restricted one.
func (c *Config) Validate() error {
	if len(c.Origins) == 0 {
		return fmt.Errorf("cors: name the origins allowed to call (scheme://host[:port], or * for any)")
	}
	for _, o := range c.Origins {
		if err := validOrigin(o); err != nil {
			return fmt.Errorf("cors: origin %q: %v", o, err)
		}
	}
	for _, m := range c.Methods {
		if !httpguts.ValidHeaderFieldName(m) {
			return fmt.Errorf("cors: method %q is not a method name", m)
		}
	}
	for _, h := range slices.Concat(c.Headers, c.ExposeHeaders) {
		if !httpguts.ValidHeaderFieldName(h) && h != "*" {
			return fmt.Errorf("cors: %q is not a header name", h)
		}
	}
	if c.MaxAge != nil && (*c.MaxAge < 0 || time.Duration(*c.MaxAge)%time.Second != 0) {
		return fmt.Errorf("cors: max_age must be whole seconds, 0 or more")
	}
	return nil
}

// validOrigin accepts "*" and the serialized origins browsers send:
// http or https, a host, maybe a port other than the scheme's own (which
// browsers leave out, so it would match nothing), nothing else; a "*"
// only as the whole first label of the host, for its subdomains
// (https://*.example.com). "null" (sandboxed frames, file: pages) is
// refused: any page can make itself one.
func validOrigin(o string) error {
	if o == "*" {
		return nil
	}
	rest := o
	if i := strings.Index(o, "://*."); i >= 0 {
		rest = o[:i] + "://wildcard." + o[i+len("://*."):]
	}
	if strings.Contains(rest, "*") {
		return fmt.Errorf("* may stand only as the first label of the host (https://*.example.com), or alone")
	}
	u, err := url.Parse(rest)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must start with http:// or https://")
	}
	if u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return fmt.Errorf("an origin is scheme://host[:port], with no path, query or user")
	}
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		return fmt.Errorf("browsers leave the scheme's own port out of an origin: write it without :%s", p)
	}
	return nil
}

// Rules are a provisioned Config: rs/cors's handler. A nil *Rules (no
// cors configured) answers no preflight and marks no call.
type Rules struct {
	handler *rscors.Cors
}

// NewRules builds the rules of c; mustAllow are request headers a page
// may always send (the impersonation header of the guard, when it has one),
// with Authorization: a list in c.Headers that left it out would make every
// call with a token fail its preflight.
func NewRules(c *Config, mustAllow ...string) *Rules {
	if len(c.Origins) == 0 {
		return nil // rs/cors would allow every origin; Validate refuses this
	}
	methods := c.Methods
	if len(methods) == 0 {
		methods = defaultCORSMethods
	}
	headers := []string{"*"}
	if len(c.Headers) > 0 {
		headers = append(append(slices.Clone(c.Headers), "Authorization"), mustAllow...)
	}
	maxAge := defaultCORSMaxAge
	if c.MaxAge != nil {
		maxAge = time.Duration(*c.MaxAge)
	}
	seconds := int(maxAge / time.Second)
	if seconds == 0 {
		seconds = -1 // rs/cors's way to send "Access-Control-Max-Age: 0"
	}
	return &Rules{handler: rscors.New(rscors.Options{
		AllowedOrigins: c.Origins,
		AllowedMethods: methods,
		AllowedHeaders: headers,
		ExposedHeaders: append([]string{"WWW-Authenticate"}, c.ExposeHeaders...),
		MaxAge:         seconds,
	})}
}

// isPreflight reports whether r is a CORS preflight (Fetch standard): what
// a browser sends before a call it must ask about, without credentials.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// AnswerPreflight answers r when it is a preflight from an allowed origin,
// and reports whether it did. Preflights of other origins, and OPTIONS
// requests that are no preflight, are requests like any other: they need a
// token.
func (c *Rules) AnswerPreflight(w http.ResponseWriter, r *http.Request) bool {
	if c == nil || !isPreflight(r) || !c.handler.OriginAllowed(r) {
		return false
	}
	c.handler.HandlerFunc(ownValues{w}, r) // the answer and its status, 204
	return true
}

// MarkCall sets, on a call from an allowed origin, the headers that let the
// page read the answer, whoever writes it: the guard's (or the endpoint's)
// refusal, the errors route or the upstream; and on every answer of the route Vary: Origin, for
// caches. It returns the writer to hand the next handler, which puts these
// back over the Access-Control-* headers the upstream sends (a browser
// refuses an answer with two Access-Control-Allow-Origin values, and a
// request of no page, without Origin, gets none at all).
func (c *Rules) MarkCall(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if c == nil {
		return w
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		// A preflight left here (no Origin, or an origin not allowed), which
		// rs/cors would answer: it gets nothing.
		w.Header().Add("Vary", "Origin")
	} else {
		c.handler.HandlerFunc(w, r) // sets the headers when the origin and method are allowed
	}
	h := w.Header()
	ownCORSValues(h)
	ours := map[string][]string{}
	for k, v := range h {
		if isCORSHeader(k) {
			ours[k] = v
		}
	}
	// rs/cors copies every Origin the request sent; browsers send one.
	if o := ours["Access-Control-Allow-Origin"]; len(o) > 1 {
		ours["Access-Control-Allow-Origin"], h["Access-Control-Allow-Origin"] = o[:1], o[:1]
	}
	return &corsWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, ours: ours}
}

// ownCORSValues gives the Vary and Access-Control-* headers of h values of
// their own. rs/cors puts slices it shares with every answer (a package
// variable for Vary: Origin) into the header map, and Caddy's header
// directive replaces values in place: its edit would otherwise reach every
// later answer of the process, and grow with each one.
func ownCORSValues(h http.Header) {
	for k, v := range h {
		if k == "Vary" || isCORSHeader(k) {
			h[k] = slices.Clone(v)
		}
	}
}

// ownValues is a writer whose header values are the answer's own when its
// header is written (ownCORSValues), for rs/cors's preflight answers.
type ownValues struct{ http.ResponseWriter }

func (w ownValues) WriteHeader(status int) {
	ownCORSValues(w.Header())
	w.ResponseWriter.WriteHeader(status)
}

// isCORSHeader reports whether the response header k is one of CORS's.
func isCORSHeader(k string) bool {
	return len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-")
}

// corsWriter puts the rules' CORS headers back over whatever the handlers
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

// Unmarshal reads a cors option (the guard's, a token endpoint's): its
// origins, then an optional block.
func Unmarshal(d *caddyfile.Dispenser) (*Config, error) {
	c := &Config{Origins: d.RemainingArgs()}
	seen := map[string]bool{}
	for d.NextBlock(1) {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("cors: duplicate option %q", opt)
		}
		seen[opt] = true
		args := d.RemainingArgs()
		if len(args) == 0 {
			return nil, d.ArgErr()
		}
		switch opt {
		case "origins":
			c.Origins = append(c.Origins, args...)
		case "methods":
			c.Methods = args
		case "headers":
			c.Headers = args
		case "expose_headers":
			c.ExposeHeaders = args
		case "max_age":
			if len(args) != 1 {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(args[0])
			if err != nil {
				return nil, d.Errf("cors: max_age: %v", err)
			}
			maxAge := caddy.Duration(dur)
			c.MaxAge = &maxAge
		default:
			return nil, d.Errf("unknown cors option %q (origins, methods, headers, expose_headers, max_age)", opt)
		}
	}
	// No origin at all (an unset {$VAR}) is refused when the config is
	// checked: a cors that allowed nothing would look as if it did.
	return c, nil
}
