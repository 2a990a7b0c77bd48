package guard

import "testing"

// allow_trailers adds names to the integrity fields, and refuses at load
// the names no trailer may carry through the gateway, in any spelling:
// credentials, framing, routing, the client's address (X-Forwarded-*),
// method overrides and Scopegate's identity and impersonation headers.
func TestTrailerAllowList(t *testing.T) {
	got, err := trailerAllowList([]string{"X-Checksum", "grpc-status"})
	if err != nil || len(got) != len(DefaultTrailers)+2 || got[len(got)-1] != "Grpc-Status" {
		t.Fatalf("trailerAllowList = %v, %v", got, err)
	}
	// Only the canonical spelling passes: another would reach an upstream
	// that folds '_' or '.' as a second value of the same field.
	h := map[string][]string{"Content-Digest": {"a"}, "Content_digest": {"b"}, "Content.Digest": {"c"}, "content-digest": {"d"}, "Grpc-Status": {"0"}}
	dropForged(h, noForgery{}, got)
	if len(h) != 3 || h["Content-Digest"] == nil || h["Grpc-Status"] == nil || h["content-digest"] == nil {
		t.Errorf("after dropForged: %v, want Content-Digest, content-digest (canonical once read) and Grpc-Status", h)
	}
	for _, name := range []string{"Authorization", "authorization", "X-Forwarded-For", "x_forwarded_host", "Forwarded",
		"X-Real-IP", "Host", "Cookie", "Content-Length", "Transfer-Encoding", "X-HTTP-Method-Override", "X-Original-URL",
		"X-Scopegate-User-Id", "x.scopegate.tenant", "X-Act-As-User", "has space", ""} {
		if _, err := trailerAllowList([]string{name}); err == nil {
			t.Errorf("allow_trailers %q was accepted", name)
		}
	}
}

type noForgery struct{}

func (noForgery) forged(string) bool { return false }
