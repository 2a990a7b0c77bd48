package guard

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/text/unicode/norm"
)

// unclearByNFKC is the check compatibilityView replaced: the whole path
// normalized (NFKC). Kept as the reference the cheaper view must match.
func unclearByNFKC(p string) bool {
	n := norm.NFKC.String(p)
	separated := strings.Map(lookalikeSeparator, n)
	return strings.Count(n, "/") != strings.Count(p, "/") || unclearASCII(n) ||
		hasDotSegment(separated) || strings.HasPrefix(separated, "//")
}

// pathAlphabet mixes what the checks read (dots, slashes, spaces, ';', '%'
// and hex digits, in ASCII and in their fullwidth and compatibility forms,
// look-alike separators) with letters, combining marks and characters whose
// compatibility form is long (U+FDFA) or plain (Hangul, Han).
var pathAlphabet = []rune{
	'/', '.', ' ', '+', ';', '%', '2', 'e', 'E', 'f', '5', 'c', 'a', 'z',
	'\uff0e', '\uff0f', '\uff1b', '\uff05', '\uff12', '\uff45', '\uff3c', '\u3000', '\u00a0', '\u2024', '\u2025', '\u2026',
	'\u2215', '\u2044', '\u00a5', '\uffe5', '\u20a9', '\uffe6', '\ufe52', '\ufe68',
	'\u0301', '\u030c', '\u00e9', '\u01c6', '\ufdfa', '\u3300', '\uac00', '\u4e2d', '\u00bd', '\u2460',
}

// Whatever the NFKC form of a path refuses, the view refuses: checked on
// 200,000 random paths over pathAlphabet (with a fixed seed, so a failure
// repeats), and the two differ only rarely, by the view refusing more.
func TestCompatibilityViewRefusesWhatNFKCRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	more := 0
	for range 200_000 {
		var b strings.Builder
		b.WriteByte('/')
		for range 1 + rng.IntN(12) {
			b.WriteRune(pathAlphabet[rng.IntN(len(pathAlphabet))])
		}
		p := b.String()
		if unclearASCII(p) {
			continue // refused before either view is read
		}
		ref, got := unclearByNFKC(p), unclearPath(p)
		if ref && !got {
			t.Fatalf("%+q: NFKC refuses it, the view does not", p)
		}
		if got && !ref {
			more++
		}
	}
	if more > 2000 {
		t.Errorf("the view refuses %d paths NFKC passes, want rarely", more)
	}
}

// BenchmarkUnclearPathUnicode is the check on a 16 KB path (Caddy's header
// limit) of characters with long compatibility forms, alone and after a
// fullwidth dot (which used to make the whole path normalized), against as
// many ASCII bytes.
func BenchmarkUnclearPathUnicode(b *testing.B) {
	long := strings.Repeat("\ufdfa", 5333)
	for name, p := range map[string]string{
		"ascii":          "/nope/" + strings.Repeat("a", 16000),
		"fdfa":           "/nope/" + long,
		"fullwidth+fdfa": "/\uff0e\uff0e\uff0f" + long,
		"fullwidth-only": "/" + strings.Repeat("\uff41", 5333),
		"japanese-plain": "/files/" + strings.Repeat("日本語", 1777),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				unclearPath(p)
			}
		})
	}
}

// A path outside ASCII that scopegate_strip found clear is not read again
// by a guard behind it, as long as it is the same path: a handler between
// them that rewrites it (to "．．／", say) has the guard check it again. An
// ASCII path is never remembered (checking it again costs less).
func TestCheckedClearFollowsThePath(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/files/caf%C3%A9", nil)
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), nil)
	if checkedClear(r) {
		t.Fatal("a path nothing checked counts as checked")
	}
	markClearPath(r)
	if !checkedClear(r) {
		t.Fatal("the path strip found clear is checked again")
	}
	r.URL.Path = "/files/\uff0e\uff0e\uff0fadmin"
	if checkedClear(r) || !unclearPath(r.URL.Path) {
		t.Fatal("a path rewritten after strip counts as checked")
	}
	ascii := httptest.NewRequest(http.MethodGet, "/files/cafe", nil)
	ascii = caddyhttp.PrepareRequest(ascii, caddy.NewReplacer(), httptest.NewRecorder(), nil)
	markClearPath(ascii)
	if _, ok := varsOf(ascii)[varClearPath]; ok {
		t.Fatal("an ASCII path was remembered")
	}
}
