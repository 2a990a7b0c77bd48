package web

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Origin returns the scheme://host[:port] of an http(s) URL (as url.Parse
// made it) whose host is an IP literal or a DNS name (letters, digits, '-',
// '_' and dots) and whose port, if any, is 1 to 65535; "" for anything else.
// url.Parse lets a host hold ';', ',', '*', quotes and other characters a
// Content-Security-Policy source list gives meaning to, so a redirect URI's
// origin goes into form-action only through here, and registering a
// redirect URI checks its host the same way.
func Origin(u *url.URL) string {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || !ValidHost(u.Hostname()) || !validPort(u) {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// validPort reports whether u has no port or one from 1 to 65535: url.Parse
// checks that a port is digits, not that any follow the colon, nor their
// value (https://a.example:0/, https://[::1]:99999/ parse).
func validPort(u *url.URL) bool {
	if !strings.HasSuffix(u.Host, ":"+u.Port()) {
		return true // no colon after the host
	}
	n, err := strconv.Atoi(u.Port())
	return err == nil && n >= 1 && n <= 65535
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
