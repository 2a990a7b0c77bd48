package guard

// Header names are compared the way a CGI-style gateway sees them:
// php_fastcgi (and CGI in general) turns X-Scopegate-User-Id,
// X_Scopegate_User_Id and (PHP) X.Scopegate.User.Id into the same
// HTTP_X_SCOPEGATE_USER_ID, so a caller who may send underscores or dots
// (Caddy drops such headers unless the server's expected_underscore_headers
// or expected_dot_headers allow them) could forge an identity header by
// spelling it that way. Go keeps such a name as sent ("X_scopegate_user_id"
// after canonicalising), so a plain map lookup or strings.EqualFold misses it.

// hasPrefixFold reports whether name starts with prefix, ignoring ASCII
// case and treating '-', '_' and '.' as the same byte.
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
	return a == b || foldNameByte(a) == foldNameByte(b)
}

func foldNameByte(c byte) byte {
	switch {
	case c == '_' || c == '.':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

// isCallerIdentityHeader reports whether a request header named name must
// not reach an upstream: it starts with one of prefixes or is one of the
// impersonation header names, in any spelling.
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
