package guard

import (
	"net/http"
	"slices"

	"github.com/scopegate/scopegate/module/app"
)

// otherSpelling finds a header that is one of names in another spelling
// ('_' or '.' for '-', a case Go does not canonicalise, as in X_Act_As_User)
// and carries a value: it returns that name and the header as the caller
// spelled it, or "" for none. It reads what scopegate_strip set aside
// (moved, which holds every spelling when Strip ran) or, when Strip did not
// run (moved nil), the request's headers. A guard honours only the exact
// name: the other spellings used to be removed silently, so a client asking
// to act as a user in such a spelling was served as itself (or as the user
// it connects as) instead of being told.
func otherSpelling(r *http.Request, moved http.Header, names []string) (name, spelled string) {
	h := moved
	if h == nil {
		h = r.Header
	}
	for k, v := range h {
		for _, n := range names {
			if len(k) == len(n) && k != n && equalNameFold(k, n) && slices.ContainsFunc(v, notEmpty) {
				return n, k
			}
		}
	}
	return "", ""
}

func notEmpty(v string) bool { return v != "" }

// ImpersonationSent returns the name, as the caller spelled it, of an
// impersonation header (X-Act-As-User or any guard's, in any spelling) the
// caller sent with a value and no guard consumed, or "". A handler that
// honours none (the admin API) refuses such a request rather than serving
// it as the caller, who asked to act as someone else.
func ImpersonationSent(r *http.Request, a *app.App) string {
	moved := varsOf(r).moved()
	names := a.ImpersonationHeaders()
	if !slices.Contains(names, DefaultImpersonationHeader) {
		names = append(slices.Clip(names), DefaultImpersonationHeader)
	}
	for _, name := range names {
		if callerSent(r, moved, name) {
			return name
		}
	}
	_, spelled := otherSpelling(r, moved, names)
	return spelled
}

// Impersonated reports whether a guard before the handler acted for a user
// because the caller sent its impersonation header: the identity has an
// actor its token does not carry. A handler that acts as the token's own
// client (the admin API) refuses such a request rather than serving it as
// the caller, who asked to act as someone else.
func Impersonated(r *http.Request) bool {
	id := varsOf(r).identity()
	return id != nil && id.Actor != nil && (id.Claims == nil || id.Claims.Act == nil)
}
