package app

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// headerNames is a set of header names (or name prefixes) the guards of one
// config use: their impersonation headers and their identity header
// prefixes. Each guard registers its names at Provision; every guard
// refuses the impersonation names it does not honour itself, so a header one
// route accepts (impersonation X-On-Behalf) is never passed to the upstream
// of a route that does not, and scopegate_strip removes all of them on
// every route. Registration happens while the config is provisioned;
// requests read the set on every call, without a lock.
type headerNames struct {
	mu    sync.Mutex // serialises writers
	names atomic.Pointer[[]string]
}

func newHeaderNames() *headerNames {
	h := new(headerNames)
	h.names.Store(&[]string{})
	return h
}

// add puts name (canonicalised) in the set; the slice readers hold is never
// changed, a new one replaces it.
func (h *headerNames) add(name string) {
	name = http.CanonicalHeaderKey(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.names.Load()
	if slices.Contains(old, name) {
		return
	}
	next := append(slices.Clip(old), name)
	h.names.Store(&next)
}

// RegisterImpersonationHeader records that a guard of this config uses name
// as its impersonation header (or refuses it, for a guard without
// impersonation: the default name).
func (a *App) RegisterImpersonationHeader(name string) { a.impersonation.add(name) }

// ImpersonationHeaders returns every impersonation header name registered
// by the guards of this config, canonicalised. Callers must not change it.
func (a *App) ImpersonationHeaders() []string { return *a.impersonation.names.Load() }

// RegisterIdentityPrefix records that a guard of this config sets its
// trusted identity headers under prefix (its header_prefix).
func (a *App) RegisterIdentityPrefix(prefix string) { a.identity.add(prefix) }

// IdentityPrefixes returns every identity header prefix registered by the
// guards of this config, canonicalised. Callers must not change it.
func (a *App) IdentityPrefixes() []string { return *a.identity.names.Load() }
