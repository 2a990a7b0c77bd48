package guard

import (
	"strings"
	"unicode/utf8"
)

// descUnclearPath answers a request refused for its path.
const descUnclearPath = "the request path must not contain . or .. segments, ';', backslashes, control characters, invalid UTF-8 or escapes left after decoding (%XX)"

// unclearPath reports whether p, the decoded request path, may name a
// different resource at the upstream than the one the routes matched: the
// guard checked the route Caddy matched on the cleaned path, while
// reverse_proxy sends the path as the caller wrote it. So every guarded
// request is refused when its path holds
//   - a "." or ".." segment, or one of only dots and spaces (Windows trims
//     them): an upstream that does not resolve them (or resolves them
//     differently) serves "/api/users/42/../../records/1" from another
//     route than the one whose scope was checked;
//   - a ';': Tomcat and Spring cut "..;" and "sessions;x" at it, so
//     "/v5/files/..;/users/1" is "/v5/users/1" there;
//   - a backslash: Windows servers and some frameworks split segments on it;
//   - a control character (NUL, tab...) or invalid UTF-8 (an overlong
//     "%c0%ae" is a dot to old decoders);
//   - an escape left after decoding ("%2e", "%5c", "%73" from a
//     double-encoded path): an upstream that decodes again reads another
//     path.
//
// Empty segments ("//") are left to claim-bound routes (ambiguousPath):
// route matchers merge them, so they name the same route.
func unclearPath(p string) bool {
	if strings.ContainsAny(p, "\\;") || hasEscape(p) || hasControl(p) || !utf8.ValidString(p) {
		return true
	}
	for rest := p; ; {
		seg, after, more := strings.Cut(rest, "/")
		if dotsAndSpaces(seg) {
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

// hasControl reports whether p holds an ASCII control character.
func hasControl(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return true
		}
	}
	return false
}

// dotsAndSpaces reports whether seg is made of dots and spaces only, with
// at least one dot: ".", "..", and what Windows trims to them ("... ", ". .").
func dotsAndSpaces(seg string) bool {
	return strings.Contains(seg, ".") && strings.Trim(seg, ". ") == ""
}
