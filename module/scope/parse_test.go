package scope

import (
	"reflect"
	"strings"
	"testing"
)

// Parse follows RFC 6749 §3.3: scope tokens separated by single spaces,
// leading and trailing spaces forgiven, duplicates dropped in first-seen
// order, empty means none; a tab, a newline, a carriage return, two spaces
// in a row, a quote, a backslash, a control or non-ASCII character is an
// error saying what and where, without quoting the input.
func TestParse(t *testing.T) {
	for in, want := range map[string][]string{
		"":                   nil,
		"   ":                nil,
		"a":                  {"a"},
		"a b":                {"a", "b"},
		" a b ":              {"a", "b"},
		"b a b":              {"b", "a"},
		"demo.read x:y/z!#$": {"demo.read", "x:y/z!#$"},
	} {
		got, err := Parse(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, says := range map[string]string{
		"a\tb":      "a tab at position 2",
		"a\nb":      "a line feed at position 2",
		"a\r\nb":    "a carriage return at position 2",
		"\ta":       "a tab at position 1",
		"a\t":       "a tab at position 2",
		"a  b":      "two spaces in a row at position 3",
		" a  b":     "two spaces in a row at position 4",
		`a "b"`:     "a double quote at position 3",
		`a\b`:       "a backslash at position 2",
		"a\x00b":    "U+0000 at position 2",
		"a\x7fb":    "U+007F at position 2",
		"caf\u00e9": "U+00E9 at position 4",
		"a\xffb":    "not UTF-8",
		"a\u00a0b":  "U+00A0 at position 2",
	} {
		got, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), says) {
			t.Errorf("Parse(%q): %v; want it to say %q", in, err, says)
		}
		for _, r := range err.Error() {
			if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
				t.Errorf("Parse(%q): the message %q has a character an error_description may not", in, err)
				break
			}
		}
	}
}
