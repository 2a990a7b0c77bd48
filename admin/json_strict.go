package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// strictMembers refuses what encoding/json lets through without a word, once
// body has decoded into dst: bytes that are not UTF-8 (it would store U+FFFD
// in their place), a member named twice in one object (it keeps the last,
// while a policy layer in front may read the first) and a member whose name
// matches a field of dst only when case is ignored ({"SCOPES": …}). The
// token endpoint refuses the same (module/issuer parseJSON).
func strictMembers(body []byte, dst any) *problem {
	if !utf8.Valid(body) {
		return newProblem(http.StatusBadRequest, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var f fieldErrors
	walkJSON(dec, jsonNames(reflect.TypeOf(dst)), &f)
	if err := f.err(); err != nil {
		return err.(*problem)
	}
	return nil
}

// walkJSON reads one value from dec (already known to be valid JSON) and
// records in f the repeated members of its objects and, when names is not
// nil, the members of this value that are not exactly one of names.
func walkJSON(dec *json.Decoder, names map[string]bool, f *fieldErrors) {
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
			walkJSON(dec, nil, f)
		}
		_, _ = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			walkJSON(dec, nil, f)
		}
		_, _ = dec.Token() // ']'
	}
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
