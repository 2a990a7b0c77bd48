package guard

import (
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The query names an access token in any spelling a server might decode
// to one: plain, percent-encoded, any case, after ';', as PHP reads names
// ('.', ' ' and an unmatched '[' for '_', a NUL ending the name), as an
// array (access_token[] in PHP, Rack and Node's qs), with the brackets Rack
// and qs skip ([access_token], access_token]); other parameters (a
// longer or shorter name, another array, the value "access_token") do not.
func TestQueryNamesToken(t *testing.T) {
	for raw, want := range map[string]bool{
		"":                               false,
		"a=1&b=2":                        false,
		"access_token=x":                 true,
		"q=1&access_token=x":             true,
		"q=1;access_token=x":             true,
		"access%5Ftoken=x":               true,
		"%61ccess_token=x":               true,
		"ACCESS_TOKEN=x":                 true,
		"access_token":                   true,
		"access_token_hint=x":            false,
		"x_access_token=x":               false,
		"token=access_token":             false,
		"access_tokens=x&q=access_token": false,
		"access.token=x":                 true,
		"access+token=x":                 true,
		"access%20token=x":               true,
		"access[token=x":                 true,
		"access_token[]=x":               true,
		"access_token%5B%5D=x":           true,
		"access_token[0]=x":              true,
		"access_token[a][b]=x":           true,
		"+access_token=x":                true,
		"access_token%00x=y":             true,
		"x[access_token]=y":              false,
		"access_tokenx[]=y":              false,
		"access-token=x":                 false,
		"[access_token]=x":               true,
		"%5Baccess_token%5D=x":           true,
		"access_token]=x":                true,
		"]access_token=x":                true,
		"[x][access_token]=y":            false,
	} {
		if got := queryNamesToken(raw); got != want {
			t.Errorf("queryNamesToken(%q) = %v, want %v", raw, got, want)
		}
	}
}

// A guarded request whose query also carries an access token (RFC 6750
// §2.3) is refused, 400 invalid_request, whether or not the header's token
// is good, and the upstream sees nothing: it used two methods at once (§2),
// and the query's token (another client's, say) would reach the upstream
// and its logs unchecked. A query without one passes.
func TestQueryAccessTokenRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Scopes: []string{"demo.read"}})
		raw := e.token(svc, "", "demo.read")
		for _, target := range []string{"/items?access_token=" + raw, "/items?q=1&access%5Ftoken=other"} {
			for _, authz := range []string{bearerLine(raw), ""} {
				x := newExchange(target, authz)
				wantRefused(t, x, x.serve(t, g), http.StatusBadRequest, oauth.InvalidRequest, descQueryToken, "")
			}
		}
		x := newExchange("/items?q=access_token", bearerLine(raw))
		wantPassed(t, x, x.serve(t, g))
	})
}
