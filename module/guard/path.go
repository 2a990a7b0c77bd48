package guard

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// descUnclearPath answers a request refused for its path.
const descUnclearPath = "the request path must not start with //, nor contain . or .. segments, ';', backslashes, control characters, invalid UTF-8 or escapes left after decoding (%XX)"

// descEncodedSlash answers a guarded request refused for an encoded slash.
const descEncodedSlash = "the request path must not contain an encoded slash (%2F)"

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
//   - a leading "//": route matchers merge it with what follows, but a
//     URI-reference parser (Node's new URL(req.url, base), Python's
//     urlsplit, Java's URI, PHP's parse_url) reads "//public/api/items/1"
//     as host "public" and path "/api/items/1", so an unguarded /public/
//     route would hand the upstream a guarded resource.
//
// Other empty segments ("/a//b") are left to claim-bound routes
// (ambiguousPath): route matchers merge them, so they name the same route,
// and no parser reads a host there.
//
// A path with letters outside ASCII is also unclear when its NFKC form is,
// or has another number of slashes: an upstream (or a Windows "best fit"
// mapping) that normalizes it reads the fullwidth "．．／" or U+2025 "‥" as
// "../".
func unclearPath(p string) bool {
	if !utf8.ValidString(p) {
		return true
	}
	if unclearASCII(p) {
		return true
	}
	if isASCII(p) {
		return false
	}
	n := compatibilityView(p)
	separated := strings.Map(lookalikeSeparator, n)
	return strings.Count(n, "/") != strings.Count(p, "/") || unclearASCII(n) ||
		hasDotSegment(separated) || strings.HasPrefix(separated, "//")
}

// isASCII reports whether p holds only ASCII characters.
func isASCII(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// compatibilityView is what the checks above need of p's NFKC form: p with
// each character whose compatibility decomposition holds ASCII or a
// look-alike separator (fullwidth forms, "‥", the ideographic space,
// fullwidth ¥) replaced by what the checks read of that decomposition
// (writeReadable), every other character kept.
// Normalizing the whole path instead cost a caller's request up to 6 ms of
// CPU (16 KB of U+FDFA, which decomposes into 18 characters, on every
// route, even a 404) against 0.3 ms for as many ASCII bytes. Composition is
// left out: it never makes ASCII or a separator, only takes a letter and a
// mark into one, so whatever the NFKC form refuses this view refuses too
// (and rarely more: a fullwidth letter with a combining mark).
func compatibilityView(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); {
		if p[i] < utf8.RuneSelf {
			b.WriteByte(p[i])
			i++
			continue
		}
		props := norm.NFKC.PropertiesString(p[i:])
		size := max(props.Size(), 1)
		if d := props.Decomposition(); d != nil && readsAsSeparatorOrASCII(d) {
			writeReadable(&b, d)
		} else {
			b.WriteString(p[i : i+size])
		}
		i += size
	}
	return b.String()
}

// writeReadable writes what the checks read of a decomposition: its ASCII
// and look-alike separators, and one 'x' (a letter that is no hex digit)
// for each run of other characters, which only part what the checks look
// for, as they would in the NFKC form. U+FDFA's eighteen characters (three
// spaces among Arabic letters) are "x x x x": a path of them grows less
// than threefold instead of elevenfold. It reads bytes, not runes: the
// other characters' bytes (lead and continuation alike) only extend a run.
func writeReadable(b *strings.Builder, d []byte) {
	other := false
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			other = false
		case (c == 0xc2 || c == 0xe2) && isLookalikeSeparator(d[i:]):
			_, size := utf8.DecodeRune(d[i:])
			b.Write(d[i : i+size])
			i += size - 1
			other = false
		case !other:
			b.WriteByte('x')
			other = true
		}
	}
}

// readsAsSeparatorOrASCII reports whether a decomposition holds an ASCII
// byte or a look-alike separator.
func readsAsSeparatorOrASCII(d []byte) bool {
	for i, c := range d {
		if c < utf8.RuneSelf || (c == 0xc2 || c == 0xe2) && isLookalikeSeparator(d[i:]) {
			return true
		}
	}
	return false
}

// isLookalikeSeparator reports whether b starts with a look-alike separator
// (lookalikeSeparator). They are U+00A5 and U+2xxx, whose first byte is
// 0xc2 or 0xe2: callers test that byte first (inline), so other bytes cost
// no call.
func isLookalikeSeparator(b []byte) bool {
	r, _ := utf8.DecodeRune(b)
	return lookalikeSeparator(r) == '/'
}

// varClearPath holds the path scopegate_strip found clear, when it holds
// characters outside ASCII: a guard behind it need not read it again (up
// to a few hundred µs for 16 KB of such characters). An ASCII path costs
// less to check again than to remember.
const varClearPath = "scopegate.clear_path"

// markClearPath records that r's path, found clear, need not be checked
// again.
func markClearPath(r *http.Request) {
	if p := r.URL.Path; !isASCII(p) {
		varsOf(r).set(varClearPath, p)
	}
}

// checkedClear reports whether r's path, as it is now (a handler between
// may have rewritten it), is the one scopegate_strip found clear.
func checkedClear(r *http.Request) bool {
	p := r.URL.Path
	if isASCII(p) {
		return false
	}
	checked, ok := varsOf(r)[varClearPath].(string)
	return ok && checked == p
}

// lookalikeSeparator maps the characters that NFKC keeps but Windows "best
// fit" code pages, or an upstream's own folding, may turn into a slash or a
// backslash (division and fraction slashes, set minus, and the yen and won
// signs that stand for a backslash in Japanese and Korean code pages) to
// '/', so that "..∕api" counts as a dot segment; alone ("¥100") they are
// clear.
func lookalikeSeparator(r rune) rune {
	switch r {
	case '\u2215', '\u2044', '\u2216', '\u29f5', '\u29f8', '\u29f9', '\u00a5', '\u20a9':
		return '/'
	}
	return r
}

// unclearASCII is unclearPath's test of p's ASCII characters.
func unclearASCII(p string) bool {
	return strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\;") || hasEscape(p) || hasControl(p) || hasDotSegment(p)
}

// hasDotSegment reports whether a segment of p (between slashes) is made
// of dots and spaces only (dotsAndSpaces).
func hasDotSegment(p string) bool {
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

// hasEscape reports whether p holds '%' followed by two hex digits, or by
// 'u' and four (IIS and ASP.NET decode "%u002e" as a dot).
func hasEscape(p string) bool {
	for i := strings.IndexByte(p, '%'); i >= 0 && i+2 < len(p); {
		if isHex(p[i+1]) && isHex(p[i+2]) {
			return true
		}
		if (p[i+1] == 'u' || p[i+1] == 'U') && i+5 < len(p) && isHex(p[i+2]) && isHex(p[i+3]) && isHex(p[i+4]) && isHex(p[i+5]) {
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
// at least one dot: ".", "..", and what Windows trims to them ("... ", ". .");
// '+' counts as a space, as form decoders (ASP.NET's UrlDecode) read it.
func dotsAndSpaces(seg string) bool {
	return strings.Contains(seg, ".") && strings.Trim(seg, ". +") == ""
}

// encodedSlash reports whether the path as sent holds an encoded slash
// ("%2F"): Caddy matched the route on the decoded path, where it ends a
// segment, while an upstream that routes on the path as sent reads it
// inside one ("/v1/applications/a%2Fb/sessions" is the sessions of
// application "a/b" there, but four segments deep, another route, here).
func encodedSlash(u *url.URL) bool {
	return strings.Contains(u.RawPath, "%2F") || strings.Contains(u.RawPath, "%2f")
}
