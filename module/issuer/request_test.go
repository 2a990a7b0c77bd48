package issuer

import (
	"context"
	"encoding/base64"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/web"
)

// parseBasic undoes RFC 6749 §2.3.1: base64, split at the first colon, then
// form-urldecode each part ('+' is a space, %XX a byte). Anything else is
// an error that never repeats the credentials.
func TestParseBasic(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		header, id, secret, err string
	}{
		{"Basic " + b64("id:secret"), "id", "secret", ""},
		{"basic " + b64("id:secret"), "id", "secret", ""},
		{"BASIC   " + b64("id:secret") + "  ", "id", "secret", ""},
		{"Basic " + b64("a%3Ab+c:s%25%3A+x%2B"), "a:b c", "s%: x+", ""},
		{"Basic " + b64("id:"), "id", "", ""},
		{"Basic " + b64("id:se:cret"), "id", "se:cret", ""},
		{"Basic " + b64("%C3%A9:%F0%9F%94%91"), "é", "🔑", ""},
		{"Bearer " + b64("id:secret"), "", "", "Basic scheme"},
		{"Basic", "", "", "Basic scheme"},
		{"", "", "", "Basic scheme"},
		{"Digest username=x", "", "", "Basic scheme"},
		{"Basic not-base64!", "", "", "base64"},
		{"Basic " + base64.RawStdEncoding.EncodeToString([]byte("id:secret1")), "", "", "base64"},
		{"Basic " + b64("idsecret"), "", "", "colon"},
		{"Basic " + b64(":secret"), "", "", "empty"},
		{"Basic " + b64("%zz:secret"), "", "", "client id"},
		{"Basic " + b64("id:%zzsecret"), "", "", "client secret"},
	} {
		id, secret, err := parseBasic(tc.header)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.header, err, tc.err)
			} else if strings.Contains(err.Error(), "secret1") || strings.Contains(err.Error(), "zzsecret") {
				t.Errorf("%q: error %q repeats the credentials", tc.header, err)
			}
			continue
		}
		if err != nil || id != tc.id || secret != tc.secret {
			t.Errorf("%q: (%q, %q, %v), want (%q, %q)", tc.header, id, secret, err, tc.id, tc.secret)
		}
	}
}

// JSON bodies: strings as they are, numbers as their text, booleans as
// true/false, null as absent, scope as a string or an array of strings
// (joined by spaces), other objects and arrays as their compact text (so an
// unrecognized one is ignored); no repeated key, nothing after the object.
func TestParseJSON(t *testing.T) {
	good := map[string]map[string]string{
		`{"a":"x","n":12.50,"b":false,"z":null,"scope":["s1","s2"]}`:     {"a": "x", "n": "12.50", "b": "false", "scope": "s1 s2"},
		` { "scope" : "s1 s2" } `:                                        {"scope": "s1 s2"},
		`{"scope":[]}`:                                                   {"scope": ""},
		`{"scope":["a"` + strings.Repeat(`,"b"`, web.MaxParams-1) + `]}`: {"scope": "a" + strings.Repeat(" b", web.MaxParams-1)},
		// Commas inside names (RFC 6749 §3.3 allows them) are not names.
		`{"scope":["r,w,x"` + strings.Repeat(`,"r,w"`, 40) + `]}`: {"scope": "r,w,x" + strings.Repeat(" r,w", 40)},
		`{}`:               {},
		`{"a":"\u00e9\n"}`: {"a": "é\n"},
		// Other objects and arrays are their compact text: an
		// unrecognized parameter is ignored whatever its type.
		`{"grant_type":"client_credentials","extra":{"a": [1, true]},"list":["b"]}`: {"grant_type": "client_credentials", "extra": `{"a":[1,true]}`, "list": `["b"]`},
	}
	for in, want := range good {
		got, oerr := parseJSON([]byte(in), readsAll)
		if oerr != nil {
			t.Errorf("%s: %v", in, oerr)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", in, k, got[k], v)
			}
		}
	}
	for in, desc := range map[string]string{
		``:                         "malformed",
		`null`:                     "malformed",
		`"grant_type"`:             "malformed",
		`[{"a":"b"}]`:              "malformed",
		`{"a":"b"`:                 "malformed",
		`{"a":}`:                   "malformed",
		`{"a":"b"} x`:              "trailing",
		`{"a":"b"}{"c":"d"}`:       "trailing",
		`{"a":"b"}]`:               "trailing",
		`{"a":"b","a":"b"}`:        "a is repeated",
		`{"scope":{"b":"c"}}`:      "array of scope names",
		`{"scope":["a",{"b":1}]}`:  "array of scope names",
		`{"scope":[null]}`:         "array of scope names",
		`{"scope":"a","scope":[]}`: "scope is repeated",
		// More names than a form may carry parameters, counted before the
		// array is decoded.
		`{"scope":["a"` + strings.Repeat(`,"a"`, web.MaxParams) + `]}`: "at most 100",
	} {
		_, oerr := parseJSON([]byte(in), readsAll)
		if oerr == nil || oerr.Code != oauth.InvalidRequest || oerr.Status != http.StatusBadRequest || !strings.Contains(oerr.Description, desc) {
			t.Errorf("%s: %v, want invalid_request mentioning %q", in, oerr, desc)
		}
	}
}

func readsAll(string) bool { return true }

// paramsGrant is a grant registered the way an extension adds one, reading
// a parameter of its own.
type paramsGrant struct{}

func (paramsGrant) Type() string        { return "urn:test:params" }
func (paramsGrant) PublicClients() bool { return false }
func (paramsGrant) Params() []string    { return []string{"subject"} }
func (paramsGrant) Handle(context.Context, *Minter, *GrantRequest) (*Issued, *oauth.Error) {
	return nil, oauth.ErrInvalidGrant("test grant")
}

// A grant says which parameters it reads (Grant.Params): the token
// endpoint refuses one of them sent twice instead of dropping it, which
// would read as the parameter not sent at all.
func TestGrantParamsMayNotRepeat(t *testing.T) {
	with := maps.Clone(grants)
	with[paramsGrant{}.Type()] = paramsGrant{}
	reads := paramsOf(with)
	for _, name := range []string{"subject", "code", "redirect_uri", "code_verifier", "refresh_token", "user_id", "userId", "grant_type", "scope"} {
		if !reads[name] {
			t.Errorf("%s, read by a registered grant or the endpoint, may be repeated", name)
		}
	}
	if reads["resource"] {
		t.Error("resource, read by no grant, may not be repeated")
	}
}

// RFC 6749 §3.1/§3.2: a parameter the endpoint reads must not be repeated
// (form or JSON: 400 invalid_request naming it), and one it does not read
// is ignored however often it comes (RFC 8707's resource, say) and left out
// of the parameters; the token endpoint reads its grants' parameters, the
// spellings of user_id and the claims the catalogue's scopes require.
func TestRepeatedParameters(t *testing.T) {
	cat, err := scope.NewCatalogue([]scope.Scope{{Name: "session", RequiredClaims: []string{"application_id"}}})
	if err != nil {
		t.Fatal(err)
	}
	reads := readsTokenParam(cat)
	post := func(ct, body string) (*Request, *oauth.Error) {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		return ParseRequest(httptest.NewRecorder(), r, reads)
	}
	const form = "application/x-www-form-urlencoded"
	req, oerr := post(form, "grant_type=client_credentials&resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb&x=1")
	if oerr != nil {
		t.Fatalf("two resource parameters: %v, want them ignored", oerr)
	}
	if _, ok := req.Params["resource"]; ok || req.Get("x") != "1" || req.Get("grant_type") != "client_credentials" {
		t.Errorf("parameters %v: want grant_type and x, no resource", req.Params)
	}
	req, oerr = post("application/json", `{"grant_type":"client_credentials","resource":"a","resource":"b","resource":"c"}`)
	if oerr != nil {
		t.Fatalf("JSON with resource three times: %v, want it ignored", oerr)
	}
	if _, ok := req.Params["resource"]; ok {
		t.Errorf("JSON parameters %v keep resource", req.Params)
	}
	for _, name := range []string{"grant_type", "scope", "client_id", "code", "redirect_uri", "code_verifier", "refresh_token", "user_id", "userId", "UserID", "user-id", "application_id"} {
		for _, tc := range []struct{ ct, body string }{
			{form, "grant_type=client_credentials&" + name + "=a&" + name + "=b"},
			{"application/json", `{"grant_type":"client_credentials","` + name + `":"a","` + name + `":"a"}`},
		} {
			body := tc.body
			if name == "grant_type" {
				body = strings.Replace(body, "grant_type=client_credentials&", "", 1)
				body = strings.Replace(body, `"grant_type":"client_credentials",`, "", 1)
			}
			_, oerr := post(tc.ct, body)
			if oerr == nil || oerr.Code != oauth.InvalidRequest || !strings.Contains(oerr.Description, name+" is repeated") {
				t.Errorf("%s %s: %v, want invalid_request naming %s", tc.ct, body, oerr, name)
			}
		}
	}
	for _, name := range []string{"token", "token_type_hint", "client_secret"} {
		r := httptest.NewRequest("POST", "/revoke", strings.NewReader(name+"=a&"+name+"=b"))
		r.Header.Set("Content-Type", form)
		if _, oerr := ParseRequest(httptest.NewRecorder(), r, readsTokenOf); oerr == nil || !strings.Contains(oerr.Description, name+" is repeated") {
			t.Errorf("revocation with %s twice: %v", name, oerr)
		}
	}
	r := httptest.NewRequest("POST", "/revoke", strings.NewReader("token=a&x=1&x=2"))
	r.Header.Set("Content-Type", form)
	if _, oerr := ParseRequest(httptest.NewRecorder(), r, readsTokenOf); oerr != nil {
		t.Errorf("revocation with x twice: %v, want x ignored", oerr)
	}
}

// Error descriptions name parameters in printable, bounded form.
func TestSafeName(t *testing.T) {
	if got := safeName("a\x00b\nc é"); got != "a?b?c??" {
		t.Errorf("safeName = %q", got)
	}
	if got := safeName(strings.Repeat("x", 100)); len(got) != 40 {
		t.Errorf("safeName kept %d bytes", len(got))
	}
	if got := truncate(strings.Repeat("é", 40)); !strings.HasSuffix(got, "…") || len(got) > 64+len("…") {
		t.Errorf("truncate = %q", got)
	}
}

// Request.Alias returns the one spelling present (empty included) or ""
// when none is, takes two spellings with the same value as one, and refuses
// two with different values with invalid_request naming both, even when one
// is empty; Get is "" for absent parameters.
func TestRequestAccessors(t *testing.T) {
	r := &Request{Params: map[string]string{"userId": "u2", "user_id": "u1", "empty": "", "same": "u2"}}
	for _, tc := range []struct {
		names []string
		want  string
	}{{[]string{"nope", "userId"}, "u2"}, {[]string{"user_id", "nope"}, "u1"}, {[]string{"nope"}, ""}, {[]string{"empty", "nope"}, ""}, {[]string{"same", "userId"}, "u2"}} {
		if got, oerr := r.Alias(tc.names...); got != tc.want || oerr != nil {
			t.Errorf("Alias(%v) = %q, %v; want %q", tc.names, got, oerr, tc.want)
		}
	}
	for _, names := range [][]string{{"user_id", "userId"}, {"userId", "user_id"}, {"empty", "userId"}} {
		got, oerr := r.Alias(names...)
		if oerr == nil || oerr.Code != oauth.InvalidRequest || got != "" ||
			!strings.Contains(oerr.Description, names[0]) || !strings.Contains(oerr.Description, names[1]) {
			t.Errorf("Alias(%v) = %q, %v; want invalid_request naming both", names, got, oerr)
		}
	}
	if r.Get("absent") != "" || r.Get("user_id") != "u1" {
		t.Error("Get")
	}
}

// FuzzParseRequest: whatever the body, Content-Type and Authorization, the
// parser never panics, answers only with the statuses a malformed request
// deserves (never 500), and never puts the Basic secret into an error.
func FuzzParseRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=client_credentials&scope=a+b", "Basic "+base64.StdEncoding.EncodeToString([]byte("id:SECRETVALUE")))
	f.Add("application/json", `{"grant_type":"client_credentials","scope":["a"],"n":1}`, "")
	f.Add("application/json", `{"a":"b","a":"c"}`, "Bearer x")
	f.Add("", "client_id=a&client_secret=SECRETVALUE", "Basic "+base64.StdEncoding.EncodeToString([]byte("a:%zzSECRETVALUE")))
	f.Add("text/plain; charset=utf-8", "x", "Basic ")
	f.Add("application/json; =", "{", "basic Og==")
	f.Fuzz(func(t *testing.T, contentType, body, authorization string) {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		req, oerr := ParseRequest(httptest.NewRecorder(), r, nil)
		if oerr == nil {
			if req == nil || req.Params == nil {
				t.Fatal("no error and no request")
			}
			return
		}
		switch oerr.Status {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d for %q %q %q", oerr.Status, contentType, body, authorization)
		}
		if oerr.Code != oauth.InvalidRequest && oerr.Code != oauth.InvalidClient {
			t.Fatalf("code %s", oerr.Code)
		}
		if strings.Contains(oerr.Description, "SECRETVALUE") {
			t.Fatalf("description %q repeats the secret", oerr.Description)
		}
	})
}

// A content-coded body is refused (415 invalid_request, Accept-Encoding:
// identity) before it is read: read as it is, a gzip body would be parsed as
// parameters, and one labelled gzip but sent plain was accepted under a label
// every proxy on the way reads otherwise. "identity" is no coding.
func TestContentCodedBodyRefused(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("id:secret"))
	for _, tc := range []struct {
		codings []string
		refused bool
	}{
		{nil, false},
		{[]string{"identity"}, false},
		{[]string{"Identity, identity"}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"identity, br"}, true},
		{[]string{"identity", "deflate"}, true},
		{[]string{"x-anything"}, true},
	} {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", basic)
		for _, c := range tc.codings {
			r.Header.Add("Content-Encoding", c)
		}
		w := httptest.NewRecorder()
		req, oerr := ParseRequest(w, r, nil)
		if !tc.refused {
			if oerr != nil || req.Get("grant_type") != "client_credentials" {
				t.Errorf("Content-Encoding %q: %v, want the request read", tc.codings, oerr)
			}
			continue
		}
		if oerr == nil || oerr.Status != http.StatusUnsupportedMediaType || oerr.Code != oauth.InvalidRequest ||
			!strings.Contains(oerr.Description, "Content-Encoding") {
			t.Errorf("Content-Encoding %q: %+v, want 415 invalid_request naming Content-Encoding", tc.codings, oerr)
		}
		if got := w.Header().Get("Accept-Encoding"); got != "identity" {
			t.Errorf("Content-Encoding %q: Accept-Encoding %q, want identity", tc.codings, got)
		}
	}
}

// Two Content-Type headers are invalid_request: a layer in front may read
// the body as the other type (a form against JSON) and check parameters
// this endpoint never sees.
func TestRepeatedContentTypeRefused(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header["Content-Type"] = []string{"application/x-www-form-urlencoded", "application/json"}
	r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("id:secret")))
	_, oerr := ParseRequest(httptest.NewRecorder(), r, nil)
	if oerr == nil || oerr.Status != http.StatusBadRequest || oerr.Code != oauth.InvalidRequest ||
		!strings.Contains(oerr.Description, "one Content-Type") {
		t.Fatalf("two Content-Type headers: %+v, want 400 invalid_request asking for one", oerr)
	}
}
