package web

import (
	"net"
	"net/url"
	"strings"
)

// Origin returns the scheme://host[:port] of an http(s) URL (as url.Parse
// made it) whose host is
// an IP literal or a DNS name (letters, digits, '-', '_' and dots), or ""
// for anything else. url.Parse lets a host hold ';', ',', '*', quotes and
// other characters a Content-Security-Policy source list gives meaning to,
// so a redirect URI's origin goes into form-action only through here, and
// registering a redirect URI checks its host the same way.
func Origin(u *url.URL) string {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || !ValidHost(u.Hostname()) {
		return ""
	}
	if strings.HasSuffix(u.Host, ":") { // url.Parse checks a port's digits, not that one follows the colon
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ValidHost reports whether host (without port or brackets) is an IP
// address or a DNS name: dot-separated labels of ASCII letters, digits, '-'
// and '_', none empty, none starting or ending with '-'.
func ValidHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
