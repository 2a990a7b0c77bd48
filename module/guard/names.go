package guard

// Header names are compared the way a CGI-style gateway sees them:
// php_fastcgi (and CGI in general) turns both X-Scopegate-User-Id and
// X_Scopegate_User_Id into HTTP_X_SCOPEGATE_USER_ID, so a caller who may
// send underscores could forge an identity header by spelling it with them.
// Go keeps such a name as sent ("X_scopegate_user_id" after canonicalising),
// so a plain map lookup or strings.EqualFold misses it.

// hasPrefixFold reports whether name starts with prefix, ignoring ASCII
// case and treating '-' and '_' as the same byte.
func hasPrefixFold(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if !sameNameByte(name[i], prefix[i]) {
			return false
		}
	}
	return true
}

// equalNameFold reports whether a and b name the same header for a
// CGI-style gateway (see hasPrefixFold).
func equalNameFold(a, b string) bool {
	return len(a) == len(b) && hasPrefixFold(a, b)
}

func sameNameByte(a, b byte) bool {
	if a == b {
		return true
	}
	if a == '_' {
		a = '-'
	} else if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if b == '_' {
		b = '-'
	} else if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

// isCallerIdentityHeader reports whether a request header named name must
// not reach an upstream: it starts with one of prefixes or is one of the
// impersonation header names, in either spelling.
func isCallerIdentityHeader(name string, prefixes, impersonation []string) bool {
	for _, p := range prefixes {
		if hasPrefixFold(name, p) {
			return true
		}
	}
	for _, n := range impersonation {
		if equalNameFold(name, n) {
			return true
		}
	}
	return false
}
