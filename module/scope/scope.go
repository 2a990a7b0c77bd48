// Package scope holds the scope catalogue: which scopes exist, what people
// are told they mean, which kind of token (2- or 3-legged) each demands,
// which claims a token request must supply for it, and which other scopes it
// implies.
package scope

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Built-in scopes that guard Scopegate's own admin sub-route and
// introspection.
const (
	// Admin manages every tenant.
	Admin = "scopegate.admin"
	// TenantAdmin manages the admin's own tenant only.
	TenantAdmin = "scopegate.tenant_admin"
	// Introspect lets a client introspect (RFC 7662) the tokens of every
	// client of its own tenant, not only its own.
	Introspect = "scopegate.introspect"
)

// Legs says which kind of token a scope demands.
type Legs int

const (
	// AnyLegs accepts 2- and 3-legged tokens.
	AnyLegs Legs = 0
	// TwoLegged demands a token with no user bound.
	TwoLegged Legs = 2
	// ThreeLegged demands a token bound to a user.
	ThreeLegged Legs = 3
)

// ParseLegs reads "2", "3" or "any".
func ParseLegs(s string) (Legs, error) {
	switch strings.ToLower(s) {
	case "", "any":
		return AnyLegs, nil
	case "2":
		return TwoLegged, nil
	case "3":
		return ThreeLegged, nil
	}
	return 0, fmt.Errorf("legs must be 2, 3 or any, not %q", s)
}

func (l Legs) String() string {
	switch l {
	case TwoLegged:
		return "2"
	case ThreeLegged:
		return "3"
	}
	return "any"
}

// Allows reports whether a token of the given kind (2 or 3) satisfies l.
func (l Legs) Allows(tokenLegs int) bool { return l == AnyLegs || int(l) == tokenLegs }

// Scope is one entry of the catalogue.
type Scope struct {
	// The scope's name as it appears in tokens and requests.
	Name string `json:"name"`
	// What the scope allows, shown to people on consent and admin pages.
	Description string `json:"description,omitempty"`
	// 2 or 3 to demand that kind of token; 0 (or absent) for any.
	Legs Legs `json:"legs,omitempty"`
	// Other scopes that a token with this one is treated as having.
	Implies []string `json:"implies,omitempty"`
	// Parameters the token request must supply for this scope; their values
	// travel in the token as claims.
	RequiredClaims []string `json:"required_claims,omitempty"`
	// Clients, when not empty, names the only clients (by name, in any
	// tenant) that may hold the scope or get it in a token: Nitro's
	// batch_import belongs to the client named batch-import.
	Clients []string `json:"clients,omitempty"`
}

// ForClient reports whether a client of that name may hold s.
func (s *Scope) ForClient(name string) bool {
	return len(s.Clients) == 0 || slices.Contains(s.Clients, name)
}

// Catalogue is an immutable set of scopes with their implications resolved.
type Catalogue struct {
	byName  map[string]*Scope
	closure map[string][]string // scope -> itself plus everything it implies, transitively
	order   []string
	claims  map[string]bool // every scope's required claims
}

// BuiltIn returns the scopes Scopegate always knows.
func BuiltIn() []Scope {
	return []Scope{
		{Name: Admin, Description: "Manage every tenant's clients, users and scopes"},
		{Name: TenantAdmin, Description: "Manage the clients and users of your own tenant"},
		{Name: Introspect, Description: "Introspect the tokens of every client of your own tenant"},
	}
}

// NewCatalogue validates scopes (plus the built-in ones) and resolves implications.
func NewCatalogue(scopes []Scope) (*Catalogue, error) {
	c := &Catalogue{byName: map[string]*Scope{}, closure: map[string][]string{}}
	all := append(BuiltIn(), scopes...)
	for i := range all {
		s := all[i]
		if err := ValidName(s.Name); err != nil {
			return nil, err
		}
		if _, dup := c.byName[s.Name]; dup {
			return nil, fmt.Errorf("scope %q is defined twice", s.Name)
		}
		if s.Legs != AnyLegs && s.Legs != TwoLegged && s.Legs != ThreeLegged {
			return nil, fmt.Errorf("scope %q: legs must be 2, 3 or any", s.Name)
		}
		c.byName[s.Name] = &s
		c.order = append(c.order, s.Name)
	}
	for _, s := range c.byName {
		for _, imp := range s.Implies {
			if _, ok := c.byName[imp]; !ok {
				return nil, fmt.Errorf("scope %q implies unknown scope %q", s.Name, imp)
			}
		}
	}
	for name := range c.byName {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(n string) {
			if seen[n] {
				return // cycles are harmless: each scope is visited once
			}
			seen[n] = true
			for _, imp := range c.byName[n].Implies {
				walk(imp)
			}
		}
		walk(name)
		list := make([]string, 0, len(seen))
		for n := range seen {
			list = append(list, n)
		}
		sort.Strings(list)
		c.closure[name] = list
	}
	if err := c.checkClaimNames(); err != nil {
		return nil, err
	}
	c.claims = map[string]bool{}
	for _, s := range c.byName {
		for _, name := range s.RequiredClaims {
			c.claims[name] = true
		}
	}
	if err := c.checkImplications(); err != nil {
		return nil, err
	}
	return c, nil
}

// ValidName checks a scope token per RFC 6749 §3.3 (printable ASCII without
// space, quote or backslash).
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("scope name is empty")
	}
	for _, r := range name {
		if !tokenChar(r) {
			return fmt.Errorf("scope %q has a character RFC 6749 does not allow", name)
		}
	}
	return nil
}

// IsClaim reports whether some scope requires the claim name: a request
// parameter the token and authorize endpoints read.
func (c *Catalogue) IsClaim(name string) bool { return c != nil && c.claims[name] }

// Get returns the named scope.
func (c *Catalogue) Get(name string) (*Scope, bool) {
	s, ok := c.byName[name]
	return s, ok
}

// All returns the scopes in the order they were defined (built-ins first).
func (c *Catalogue) All() []Scope {
	out := make([]Scope, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, *c.byName[n])
	}
	return out
}

// Unknown returns the names in list that the catalogue does not define.
func (c *Catalogue) Unknown(list []string) []string {
	var out []string
	for _, n := range list {
		if _, ok := c.byName[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// Expand returns the granted scopes together with everything they imply.
func (c *Catalogue) Expand(granted []string) map[string]struct{} {
	out := make(map[string]struct{}, len(granted)*2)
	for _, g := range granted {
		out[g] = struct{}{}
		for _, imp := range c.closure[g] {
			out[imp] = struct{}{}
		}
	}
	return out
}

// GivesAdmin reports whether granted gives scopegate.admin or
// scopegate.tenant_admin, directly or through an implication.
func (c *Catalogue) GivesAdmin(granted []string) bool {
	return c.Satisfies(granted, Admin) || c.Satisfies(granted, TenantAdmin)
}

// Satisfies reports whether granted (with implications) contains required.
func (c *Catalogue) Satisfies(granted []string, required string) bool {
	for _, g := range granted {
		if g == required {
			return true
		}
		for _, imp := range c.closure[g] {
			if imp == required {
				return true
			}
		}
	}
	return false
}

// Parse reads the scope parameter of a request strictly, as RFC 6749 §3.3
// writes it: scope = scope-token *( SP scope-token ), scope-token =
// 1*( %x21 / %x23-5B / %x5D-7E ). Tokens are separated by single spaces;
// only spaces before the first token and after the last are forgiven. A
// tab, a newline, two spaces in a row or any other character outside
// scope-token is an error that says what and where (the message quotes no
// input, so it is safe in an error_description). Duplicates are dropped,
// keeping the first-seen order; an empty parameter is no scopes (nil).
func Parse(s string) ([]string, error) {
	trimmed := strings.Trim(s, " ")
	if trimmed == "" {
		return nil, nil
	}
	lead := strings.Index(s, trimmed)
	for i, r := range trimmed {
		pos := lead + i + 1 // 1-based, in bytes of the whole parameter
		switch {
		case r == ' ' && trimmed[i-1] == ' ':
			return nil, fmt.Errorf("the scope parameter has two spaces in a row at position %d; separate scopes with single spaces (RFC 6749 section 3.3)", pos)
		case r == ' ':
		case !tokenChar(r):
			return nil, fmt.Errorf("the scope parameter has %s at position %d, which RFC 6749 section 3.3 does not allow: separate scopes with single spaces, and use printable ASCII without quote or backslash in a scope", describe(r), pos)
		}
	}
	fields := strings.Split(trimmed, " ")
	out := fields[:0]
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// tokenChar reports whether r may appear in a scope-token (RFC 6749 §3.3).
func tokenChar(r rune) bool { return r >= 0x21 && r <= 0x7e && r != '"' && r != '\\' }

// describe names a character without quoting it.
func describe(r rune) string {
	switch r {
	case '\t':
		return "a tab"
	case '\n':
		return "a line feed"
	case '\r':
		return "a carriage return"
	case '"':
		return "a double quote"
	case '\\':
		return "a backslash"
	case utf8.RuneError:
		return "a byte that is not UTF-8 or a replacement character"
	}
	return fmt.Sprintf("the character U+%04X", r)
}

// Split splits a space-delimited list of scopes Scopegate itself wrote (a
// token's scope claim, say), dropping duplicates and keeping the first-seen
// order. A request's scope parameter goes through Parse instead.
func Split(s string) []string {
	fields := strings.Fields(s)
	out := fields[:0]
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// Join renders scopes as the space-delimited form used in tokens and responses.
func Join(scopes []string) string { return strings.Join(scopes, " ") }
