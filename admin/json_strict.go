package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// strictMembers refuses what encoding/json lets through without a word, once
// body has decoded into dst: bytes that are not UTF-8 (it would store U+FFFD
// in their place), a member named twice in one object (it keeps the last,
// while a policy layer in front may read the first) and a member whose name
// matches a field of dst only when case is ignored ({"SCOPES": …}). It also
// refuses bidirectional controls and invisible characters in any string but
// a password (which no page shows): a right-to-left override in a client name runs on
// into the consent page's own sentence, and a zero-width space makes two
// usernames look alike. Every string, a password's too, must be valid
// Unicode: encoding/json turns an escaped lone surrogate into U+FFFD, so two
// different passwords would be stored as one. Only what a request sends is checked, so a value
// stored before this rule never blocks a change to something else.
func strictMembers(body []byte, dst any) *problem {
	if !utf8.Valid(body) {
		return newProblem(http.StatusBadRequest, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var f fieldErrors
	walkJSON(dec, jsonNames(reflect.TypeOf(dst)), "", &f)
	if err := f.err(); err != nil {
		return err.(*problem)
	}
	return nil
}

// walkJSON reads one value from dec (already known to be valid JSON),
// member being the top-level member it belongs to, and records in f the
// repeated members of its objects, the strings holding invisible characters
// and, when names is not nil, the members of this value that are not
// exactly one of names.
func walkJSON(dec *json.Decoder, names map[string]bool, member string, f *fieldErrors) {
	tok, err := dec.Token()
	if err != nil {
		return
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return
			}
			name, _ := tok.(string) // member names are strings
			switch {
			case seen[name]:
				f.add(name, "is given more than once")
			case names != nil && !names[name]:
				f.add(name, "unknown field (member names are case-sensitive)")
			}
			seen[name] = true
			within := member
			if names != nil {
				within = name
			}
			walkJSON(dec, nil, within, f)
		}
		_, _ = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			walkJSON(dec, nil, member, f)
		}
		_, _ = dec.Token() // ']'
	default:
		s, ok := tok.(string)
		switch {
		case !ok || f.has(member):
		case strings.ContainsRune(s, utf8.RuneError):
			// An escaped lone surrogate ("\ud800") decodes to U+FFFD:
			// different inputs would be stored as one.
			f.add(member, "must be valid Unicode (no lone surrogate escapes, no U+FFFD)")
		case member != "password" && strings.IndexFunc(s, invisible) >= 0:
			f.add(member, "must not contain bidirectional controls or invisible characters")
		}
	}
}

// invisible reports whether r is a bidirectional control or a character
// that shows as nothing (format characters, line and paragraph separators,
// the Hangul fillers). The zero-width joiner and non-joiner stay: scripts
// and emoji need them.
func invisible(r rune) bool {
	switch r {
	case '\u200c', '\u200d':
		return false
	case '\u2028', '\u2029', '\u115f', '\u1160', '\u3164', '\uffa0':
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// jsonNames are the member names encoding/json gives the fields of the
// struct t points to (nil for other types: no names to check).
func jsonNames(t reflect.Type) map[string]bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !sf.IsExported() && !sf.Anonymous:
		case sf.Anonymous && tag == "":
			for n := range jsonNames(sf.Type) {
				names[n] = true
			}
		case tag != "":
			names[tag] = true
		default:
			names[sf.Name] = true
		}
	}
	return names
}

// memberIsNull reports whether the JSON object body (already decoded
// strictly) has the member name, given as null.
func memberIsNull(body []byte, name string) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return false
	}
	v, ok := members[name]
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}
