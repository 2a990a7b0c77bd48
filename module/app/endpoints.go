package app

import (
	"slices"
	"sync"
)

// endpointSet is what the Scopegate endpoints of one config serve, so that
// discovery advertises exactly that (RFC 8414) instead of everything
// Scopegate could serve. Each endpoint registers itself at Provision, like
// the guards' impersonation headers; a config reload provisions a new app,
// so nothing needs unregistering.
type endpointSet struct {
	mu     sync.Mutex
	kinds  []string // "token", "authorize", "revoke", "introspect", …
	grants []string // grant types some token endpoint accepts
}

// RegisterEndpoint records that an endpoint of kind ("token", "authorize",
// "revoke", "introspect") is mounted in this config; a token endpoint
// names the grant types it accepts.
func (a *App) RegisterEndpoint(kind string, grantTypes ...string) {
	s := a.endpoints
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.kinds, kind) {
		s.kinds = append(s.kinds, kind)
	}
	for _, g := range grantTypes {
		if !slices.Contains(s.grants, g) {
			s.grants = append(s.grants, g)
		}
	}
}

// Endpoints returns the kinds of endpoint mounted in this config and the
// grant types their token endpoints accept, each sorted.
func (a *App) Endpoints() (kinds, grantTypes []string) {
	s := a.endpoints
	s.mu.Lock()
	defer s.mu.Unlock()
	kinds, grantTypes = slices.Clone(s.kinds), slices.Clone(s.grants)
	slices.Sort(kinds)
	slices.Sort(grantTypes)
	return kinds, grantTypes
}
