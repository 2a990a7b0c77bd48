package web

import (
	"path"
	"strings"
)

// LocalPath turns a request path into one a page may emit as a form action,
// link, cookie path or redirect: an absolute path on this origin, whatever
// the raw request said. Caddy's matchers clean the path before matching, so
// "GET //evil.example/..%2Foauth/authorize" reaches the handler for
// /oauth/authorize with that raw path; echoed into `<form action>` it is a
// protocol-relative URL, and the browser posts the user's password to
// evil.example. So: browsers read a backslash as a slash and drop tabs and
// newlines, which LocalPath does first; then the path is cleaned (no "." or
// ".." segments, no repeated slashes), so it starts with exactly one "/"
// and can name neither another host nor a scheme. A trailing slash is kept.
func LocalPath(p string) string {
	p = strings.Map(func(r rune) rune {
		switch {
		case r == '\\':
			return '/'
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, p)
	clean := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}
