package issuer

import (
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/token"
)

func init() {
	caddy.RegisterModule(Discovery{})
}

// The kinds of endpoint that register with the app (app.RegisterEndpoint),
// so discovery knows what this config serves.
const (
	EndpointToken      = "token"
	EndpointAuthorize  = "authorize"
	EndpointRevoke     = "revoke"
	EndpointIntrospect = "introspect"
)

// Discovery serves RFC 8414 authorization server metadata (at a path ending
// in /oauth-authorization-server or /openid-configuration) and the JWKS (at a
// path ending in /jwks.json), e.g. `handle /.well-known/* { scopegate discovery }`.
// Other paths pass to the next handler.
//
// The metadata says exactly what this config serves, as the endpoints
// registered with the app at Provision tell it: the grant types its token
// endpoints accept (authorization_code and refresh_token only with an
// authorize endpoint, the only source of codes; implicit with one), the
// response types and PKCE only with an authorize endpoint, and the
// authorize, revocation and introspection endpoints only when they are both
// named here (paths are the operator's to say) and mounted.
type Discovery struct {
	// Where the endpoints are, as paths on the issuer or absolute URLs.
	// Defaults: /oauth2/token and /.well-known/jwks.json; the others are
	// published only when set (and, but for userinfo, mounted).
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
	JWKSURI               string `json:"jwks_uri,omitempty"`
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
	RevocationEndpoint    string `json:"revocation_endpoint,omitempty"`
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`

	app *app.App
}

// CaddyModule returns the Caddy module information.
func (Discovery) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_discovery",
		New: func() caddy.Module { return new(Discovery) },
	}
}

// Provision looks up the scopegate app.
func (d *Discovery) Provision(ctx caddy.Context) error {
	a, err := app.From(ctx)
	if err != nil {
		return err
	}
	d.setup(a)
	return nil
}

// setup attaches the app and fills defaults (Provision without a Caddy context).
func (d *Discovery) setup(a *app.App) {
	d.app = a
	if d.TokenEndpoint == "" {
		d.TokenEndpoint = "/oauth2/token"
	}
	if d.JWKSURI == "" {
		d.JWKSURI = "/.well-known/jwks.json"
	}
}

// ServeHTTP answers metadata and JWKS requests.
func (d *Discovery) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p := strings.TrimSuffix(r.URL.Path, "/")
	var body any
	maxAge := 300 // the metadata changes only with the configuration
	document := strings.HasSuffix(p, "/jwks.json") || strings.HasSuffix(p, "/oauth-authorization-server") || strings.HasSuffix(p, "/openid-configuration")
	if document && r.Method != http.MethodGet && r.Method != http.MethodHead {
		// JSON, as every other answer of the issuer's paths; before any
		// other check, so a write is a 405 whatever state the app is in.
		w.Header().Set("Allow", "GET, HEAD")
		oauth.WriteJSON(w, oauth.New(oauth.InvalidRequest, http.StatusMethodNotAllowed, "%s is read-only: use GET", path.Base(p)), defaultRealm)
		return nil
	}
	switch {
	case strings.HasSuffix(p, "/jwks.json"):
		if oerr := notOpen(d.app); oerr != nil {
			oauth.WriteJSON(w, oerr, "scopegate")
			return nil
		}
		body = d.app.Keys().JWKS()
		// Shorter than key_prepublish: every client that honours it holds
		// a rotated-in key before the key signs.
		maxAge = int(token.JWKSMaxAge(time.Duration(d.app.KeyPrepublish)).Seconds())
	case strings.HasSuffix(p, "/oauth-authorization-server"), strings.HasSuffix(p, "/openid-configuration"):
		body = d.metadata()
	default:
		return next.ServeHTTP(w, r)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(maxAge))
	return json.NewEncoder(w).Encode(body)
}

func (d *Discovery) metadata() map[string]any {
	scopes := []string{}
	for _, s := range d.app.Catalogue().All() {
		scopes = append(scopes, s.Name)
	}
	kinds, tokenGrants := d.app.Endpoints()
	authorize := d.AuthorizationEndpoint != "" && slices.Contains(kinds, EndpointAuthorize)
	codeFlow := d.AuthorizationEndpoint != "" && codeFlowServed(d.app)
	grantTypes := []string{}
	for _, g := range tokenGrants {
		// Codes come only from the authorize endpoint, refresh tokens only
		// with a code.
		if (g == "authorization_code" || g == "refresh_token") && !codeFlow {
			continue
		}
		grantTypes = append(grantTypes, g)
	}
	responseTypes := []string{}
	if codeFlow {
		responseTypes = append(responseTypes, "code")
	}
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	if authorize {
		responseTypes = append(responseTypes, "token")
		grantTypes = append(grantTypes, "implicit")
		slices.Sort(grantTypes)
	}
	m := map[string]any{
		"issuer":                                    d.app.Issuer,
		"token_endpoint":                            d.url(d.TokenEndpoint),
		"jwks_uri":                                  d.url(d.JWKSURI),
		"grant_types_supported":                     grantTypes,
		"token_endpoint_auth_methods_supported":     authMethods,
		"scopes_supported":                          scopes,
		"response_types_supported":                  responseTypes,
		"access_token_signing_alg_values_supported": []string{"EdDSA"},
	}
	if authorize || codeFlow {
		// Every authorization response redirected to a client carries iss.
		m["authorization_response_iss_parameter_supported"] = true
	}
	if codeFlow {
		m["code_challenge_methods_supported"] = []string{"S256"}
		// Auth method none: public clients, which redeem PKCE codes and
		// refresh tokens with their client_id alone.
		m["token_endpoint_auth_methods_supported"] = append(authMethods, "none")
	}
	for _, ep := range []struct {
		key, path, kind string
	}{
		{"authorization_endpoint", d.AuthorizationEndpoint, EndpointAuthorize},
		{"revocation_endpoint", d.RevocationEndpoint, EndpointRevoke},
		{"introspection_endpoint", d.IntrospectionEndpoint, EndpointIntrospect},
		{"userinfo_endpoint", d.UserinfoEndpoint, ""}, // answers what the guard set; not registered
	} {
		if ep.path != "" && (ep.kind == "" || slices.Contains(kinds, ep.kind)) {
			m[ep.key] = d.url(ep.path)
		}
	}
	// RFC 8414 §2: without these members a client must assume Basic alone.
	// Both endpoints take the token endpoint's client authentication; a
	// public client revokes with its client_id alone, but may not introspect.
	if _, ok := m["revocation_endpoint"]; ok {
		m["revocation_endpoint_auth_methods_supported"] = m["token_endpoint_auth_methods_supported"]
	}
	if _, ok := m["introspection_endpoint"]; ok {
		m["introspection_endpoint_auth_methods_supported"] = authMethods
	}
	return m
}

func (d *Discovery) url(p string) string {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return p
	}
	return d.app.Issuer + "/" + strings.TrimPrefix(p, "/")
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Discovery)(nil)
	_ caddyhttp.MiddlewareHandler = (*Discovery)(nil)
)

// codeFlowServed reports whether this config serves the code flow: an
// authorize endpoint, and a token endpoint taking authorization_code. Codes
// come only from the one, refresh tokens only with a code.
func codeFlowServed(a *app.App) bool {
	kinds, grants := a.Endpoints()
	return slices.Contains(kinds, EndpointAuthorize) && slices.Contains(grants, "authorization_code")
}
