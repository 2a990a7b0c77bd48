package issuer

import (
	"net/url"
	"sort"
	"strings"

	"github.com/scopegate/scopegate/module/scope"
)

// authParams are the parameters of an authorization request this endpoint
// acts on (RFC 6749 §4.1.1 and §4.2.1, RFC 7636 §4.3). Only these, and the
// claims the requested scopes require, travel from page to page in hidden
// fields: anything else in the link is dropped, so a crafted link cannot
// plant a field the pages themselves send (an "action" that turns Deny into
// Allow, or a "username" and "password" that sign the victim in as someone
// else).
var authParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
}

// formFields are the fields the pages' own forms send. They are never
// carried as request parameters, and a post that repeats one is refused, so
// the value the handler reads is the one the user chose.
var formFields = []string{"action", "csrf", "username", "password"}

func isFormField(name string) bool {
	for _, f := range formFields {
		if f == name {
			return true
		}
	}
	return false
}

// carried keeps the parameters of v the flow uses: authParams and claims,
// never a form field.
func carried(v url.Values, claims []string) url.Values {
	out := url.Values{}
	for _, names := range [][]string{authParams, claims} {
		for _, name := range names {
			if vals, ok := v[name]; ok && !isFormField(name) {
				out[name] = vals
			}
		}
	}
	return out
}

// repeatedFormField returns the first form field a post sends more than
// once, or "".
func repeatedFormField(form url.Values) string {
	for _, name := range formFields {
		if len(form[name]) > 1 {
			return name
		}
	}
	return ""
}

// withoutFormFields is a post's form minus the pages' own fields: the
// authorization request it carries.
func withoutFormFields(form url.Values) url.Values {
	out := url.Values{}
	for k, vals := range form {
		if !isFormField(k) {
			out[k] = vals
		}
	}
	return out
}

type hiddenField struct{ Name, Value string }

// hidden lists the carried parameters as hidden fields, sorted by name.
func hidden(v url.Values) []hiddenField {
	out := make([]hiddenField, 0, len(v))
	for k := range v {
		out = append(out, hiddenField{k, v.Get(k)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// unbracket reads a scope list wrapped in one pair of square brackets as
// the list inside: Imagen's example URL writes its placeholders in brackets
// ("client_id=[Your_API key_here]") and the scope list too
// ("scope=[readUsersData modifyUsersData]"), so people paste it that way.
// Brackets are legal in scope names (RFC 6749 §3.3), so a value whose names
// are all in the catalogue as written is left alone.
func unbracket(cat *scope.Catalogue, raw string) string {
	t := strings.TrimSpace(raw)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' || len(cat.Unknown(scope.Split(t))) == 0 {
		return raw
	}
	return t[1 : len(t)-1]
}
