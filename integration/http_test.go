package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// call sends a request with an optional bearer token and JSON body and
// returns the status, the decoded JSON body (nil if not JSON) and headers.
func call(t *testing.T, method, rawURL, bearer string, body any, headers ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

// tokenBasic asks the token endpoint at path for a client_credentials
// token with HTTP Basic authentication, as the Bits and quickstart docs show.
func tokenBasic(t *testing.T, g *gateway, path, id, secret string, extra url.Values) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("token endpoint answered non-JSON (status %d): %v", resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response without Cache-Control: no-store")
	}
	return resp.StatusCode, out
}

// mustToken is tokenBasic that fails the test unless a token comes back.
func mustToken(t *testing.T, g *gateway, id, secret string, extra url.Values) string {
	t.Helper()
	status, body := tokenBasic(t, g, "/oauth2/token", id, secret, extra)
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token request: %d %v", status, body)
	}
	return tok
}

// challenge returns the error code named in a Bearer WWW-Authenticate header.
func challenge(h http.Header) string {
	v := h.Get("WWW-Authenticate")
	i := strings.Index(v, `error="`)
	if i < 0 {
		return ""
	}
	rest := v[i+len(`error="`):]
	return rest[:strings.IndexByte(rest, '"')]
}
