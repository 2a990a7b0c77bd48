package oauth

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// invalid_client carries a Basic challenge, 401, no-store and the JSON body.
func TestWriteJSONInvalidClient(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, ErrInvalidClient("unknown client"), "api")
	if rec.Code != 401 {
		t.Fatalf("status %d", rec.Code)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="api"` {
		t.Errorf("challenge %q", got)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("missing no-store")
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "invalid_client" || body["error_description"] != "unknown client" {
		t.Errorf("body %s (%v)", rec.Body, err)
	}
}

// The Bearer challenge names the error, and quotes cannot break out of it.
func TestWriteBearerEscapes(t *testing.T) {
	rec := httptest.NewRecorder()
	e := New(InsufficientScope, 403, `needs "x"\`)
	e.Scope = "demo.write"
	WriteBearer(rec, e, "gw")
	got := rec.Header().Get("WWW-Authenticate")
	want := `Bearer realm="gw", error="insufficient_scope", error_description="needs 'x''", scope="demo.write"`
	if got != want {
		t.Errorf("challenge\n got %s\nwant %s", got, want)
	}
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `"scope":"demo.write"`) {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
}

// An error_description keeps to RFC 6749 §5.2's characters (%x20-21 /
// %x23-5B / %x5D-7E) whatever the caller sent: a %q of input with quotes,
// backslashes, control and non-ASCII characters comes out with apostrophes
// in their place.
func TestDescriptionCharacters(t *testing.T) {
	e := ErrInvalidGrant("unknown user %q in the client's tenant", "évil\"\\<script>\n")
	for _, r := range e.Description {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Fatalf("description %q holds %q, outside RFC 6749 section 5.2", e.Description, r)
		}
	}
	if e.Description != "unknown user ''vil''''<script>'n' in the client's tenant" {
		t.Errorf("description %q", e.Description)
	}
}

// A description naming a huge value the caller sent is cut at 300
// characters, ending in "...", instead of echoing it whole.
func TestDescriptionIsBounded(t *testing.T) {
	huge := strings.Repeat("s", 60_000)
	e := ErrInvalidScope("unknown scope %q", huge)
	if len(e.Description) != maxDescription || !strings.HasSuffix(e.Description, "...") || !strings.HasPrefix(e.Description, "unknown scope 'sss") {
		t.Fatalf("description of %d bytes: %.80q…", len(e.Description), e.Description)
	}
	if short := ErrInvalidScope("unknown scope %q", "x"); short.Description != "unknown scope 'x'" {
		t.Fatalf("a short description changed: %q", short.Description)
	}
}
