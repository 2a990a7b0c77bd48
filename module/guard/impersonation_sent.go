package guard

import (
	"net/http"
	"slices"

	"github.com/scopegate/scopegate/module/app"
)

// otherSpelling returns the name, as the caller spelled it, of a header
// that is name in another spelling ('_' or '.' for '-', a case Go does not
// canonicalise, as in X_Act_As_User) and carries a value, from r or from
// what scopegate_strip set aside; "" for none. A guard honours only the
// exact name: the other spellings used to be removed silently, so a client
// asking to act as a user in such a spelling was served as itself (or as
// the user it connects as) instead of being told.
func otherSpelling(r *http.Request, moved http.Header, name string) string {
	for _, h := range [2]http.Header{r.Header, moved} {
		for k, v := range h {
			if k != name && equalNameFold(k, name) && slices.ContainsFunc(v, notEmpty) {
				return k
			}
		}
	}
	return ""
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
		if k := otherSpelling(r, moved, name); k != "" {
			return k
		}
	}
	return ""
}
