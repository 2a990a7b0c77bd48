package guard

import "strings"

// descUnclearPath answers a request refused for its path.
const descUnclearPath = "the request path must not contain . or .. segments, backslashes or escapes left after decoding (%XX)"

// unclearPath reports whether p, the decoded request path, may name a
// different resource at the upstream than the one the routes matched: the
// guard checked the route Caddy matched on the cleaned path, while
// reverse_proxy sends the path as the caller wrote it. So every guarded
// request is refused when its path holds
//   - a "." or ".." segment: an upstream that does not resolve them (or
//     resolves them differently) serves "/api/users/42/../../records/1"
//     from another route than the one whose scope was checked;
//   - a backslash: Windows servers and some frameworks split segments on it;
//   - an escape left after decoding ("%2e", "%5c", "%73" from a
//     double-encoded path): an upstream that decodes again reads another
//     path.
//
// Empty segments ("//") are left to claim-bound routes (ambiguousPath):
// route matchers merge them, so they name the same route.
func unclearPath(p string) bool {
	if strings.IndexByte(p, '\\') >= 0 || hasEscape(p) {
		return true
	}
	for rest := p; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." {
			return true
		}
		if !more {
			return false
		}
		rest = after
	}
}

// hasEscape reports whether p holds '%' followed by two hex digits.
func hasEscape(p string) bool {
	for i := strings.IndexByte(p, '%'); i >= 0 && i+2 < len(p); {
		if isHex(p[i+1]) && isHex(p[i+2]) {
			return true
		}
		next := strings.IndexByte(p[i+1:], '%')
		if next < 0 {
			return false
		}
		i += 1 + next
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
