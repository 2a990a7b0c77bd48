package scope

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// reservedClaims are names a scope may not require. A required claim is
// read from the token request's parameter of that name, travels in the
// token and in an X-Scopegate-Claim-… header, and is listed next to the
// standard members in an introspection answer. So none may be:
//   - a member of the introspection answer or a claim of the token itself
//     (RFC 7662 §2.2, RFC 7519 §4.1, and Scopegate's own): a client would
//     choose its value, and a resource server reading "sub" or "tenant"
//     would believe it;
//   - a parameter that carries a credential or steers the protocol
//     (RFC 6749, 7636, 7009, 7521, 7523): its value would be copied into
//     the token and the upstream's headers, a secret included.
var reservedClaims = []string{
	// introspection members and token claims
	"active", "scope", "client_id", "username", "token_type", "exp", "iat", "nbf", "sub", "aud", "iss", "jti",
	"tenant", "legs", "act", "cas", "pu", "nu", "tgen", "ext", "cnf", "azp",
	// parameters with a meaning of their own at the token, authorize,
	// revoke and introspect endpoints
	"grant_type", "response_type", "client_secret", "client_assertion", "client_assertion_type", "assertion",
	"password", "code", "code_verifier", "code_challenge", "code_challenge_method", "refresh_token",
	"access_token", "token", "token_type_hint", "state", "nonce", "user_id", "audience", "resource",
}

// foldClaimName is how names are compared with reservedClaims: letter
// case, '_', '-' and '.' do not count, so userId (Nitro's spelling of
// user_id), Client-Id and client.id are all client_id.
func foldClaimName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' {
			return -1
		}
		return unicode.ToLower(r)
	}, name)
}

// reservedFolded is reservedClaims folded, built once.
var reservedFolded = func() map[string]bool {
	m := make(map[string]bool, len(reservedClaims))
	for _, n := range reservedClaims {
		m[foldClaimName(n)] = true
	}
	return m
}()

// IsReservedClaim reports whether name, in any spelling, is one a scope
// may not require (reservedClaims): introspection also leaves such a claim
// out of its answer, should a token minted under an older catalogue carry
// one.
func IsReservedClaim(name string) bool { return reservedFolded[foldClaimName(name)] }

// IsRedirectClaim reports whether a required claim names a redirect
// target (redirect_url or redirect_uri, in any spelling): its value must be
// one of the client's registered redirect URIs, or a client could have an
// upstream send a user anywhere in the gateway's name.
func IsRedirectClaim(name string) bool {
	f := foldClaimName(name)
	return f == "redirecturl" || f == "redirecturi"
}

// maxClaimName bounds a claim name, which becomes part of a header name.
const maxClaimName = 64

// validClaimName checks a name a scope requires: letters, digits, '_',
// '-' and '.' (it becomes a header name, X-Scopegate-Claim-Application-Id
// for application_id), and not one of reservedClaims in any spelling.
func validClaimName(scopeName, name string) error {
	if name == "" || len(name) > maxClaimName {
		return fmt.Errorf("scope %q: a required claim's name must be 1 to %d characters", scopeName, maxClaimName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("scope %q: required claim %q may hold only letters, digits, '_', '-' and '.'", scopeName, name)
		}
	}
	if IsReservedClaim(name) {
		return fmt.Errorf("scope %q: required claim %q is a name the token, its introspection or the OAuth protocol already uses (in some spelling); choose a name of your own, such as %s_hint", scopeName, name, foldClaimName(name))
	}
	return nil
}

// claimHeaderKey is the part of the identity header that a claim name
// decides: letter case and '_' or '.' against '-' do not tell two names
// apart there (scopegate_strip treats those spellings as one header, and
// so do many upstreams).
func claimHeaderKey(name string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name))
}

// checkClaimNames validates every required claim of the catalogue and
// refuses two names that would share one identity header (app_id and
// App-Id): the upstream could not tell which scope's value it reads.
func (c *Catalogue) checkClaimNames() error {
	seen := map[string]string{} // header key -> first name
	for _, n := range c.order {
		s := c.byName[n]
		for _, name := range s.RequiredClaims {
			if err := validClaimName(s.Name, name); err != nil {
				return err
			}
			k := claimHeaderKey(name)
			if first, ok := seen[k]; ok && first != name {
				return fmt.Errorf("scope %q: required claims %q and %q would travel in the same identity header; use one spelling", s.Name, first, name)
			}
			seen[k] = name
		}
	}
	return nil
}

// checkImplications refuses a scope that implies (directly or through
// others) a scope with restrictions it does not carry itself. A token with
// the implying scope is treated as holding the implied one, so:
//   - an implied scope's required claims would be missing from the token,
//     and a guard's match_claim binds nothing a token lacks: the implying
//     scope must require them too;
//   - an implied scope's clients list would be moot: the implying scope
//     must be limited to those clients (or fewer).
func (c *Catalogue) checkImplications() error {
	for _, n := range c.order {
		s := c.byName[n]
		for _, imp := range c.closure[n] {
			if imp == n {
				continue
			}
			t := c.byName[imp]
			for _, claim := range t.RequiredClaims {
				if !slices.Contains(s.RequiredClaims, claim) {
					return fmt.Errorf("scope %q implies %q, which requires the claim %q: a token with %q would be treated as holding %q without it; require %s in %q too, or drop the implication", s.Name, t.Name, claim, s.Name, t.Name, claim, s.Name)
				}
			}
			if len(t.Clients) == 0 {
				continue
			}
			if len(s.Clients) == 0 {
				return fmt.Errorf("scope %q implies %q, which only the clients %v may hold: limit %q to those clients too, or drop the implication", s.Name, t.Name, t.Clients, s.Name)
			}
			for _, cl := range s.Clients {
				if !slices.Contains(t.Clients, cl) {
					return fmt.Errorf("scope %q implies %q, which client %q may not hold: limit %q to %v, or drop the implication", s.Name, t.Name, cl, s.Name, t.Clients)
				}
			}
		}
	}
	return nil
}
