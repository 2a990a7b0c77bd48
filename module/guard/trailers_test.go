package guard

import "testing"

// allow_trailers adds names to the integrity fields, and refuses at load
// the names no trailer may carry through the gateway, in any spelling:
// credentials, framing, routing, the client's address (X-Forwarded-*),
// method overrides and Scopegate's identity and impersonation headers.
func TestTrailerAllowList(t *testing.T) {
	got, err := trailerAllowList([]string{"X-Checksum", "Grpc-Status"})
	if err != nil || len(got) != len(DefaultTrailers)+2 || got[len(got)-1] != "Grpc-Status" {
		t.Fatalf("trailerAllowList = %v, %v", got, err)
	}
	for _, name := range []string{"Authorization", "authorization", "X-Forwarded-For", "x_forwarded_host", "Forwarded",
		"X-Real-IP", "Host", "Cookie", "Content-Length", "Transfer-Encoding", "X-HTTP-Method-Override", "X-Original-URL",
		"X-Scopegate-User-Id", "x.scopegate.tenant", "X-Act-As-User", "has space", ""} {
		if _, err := trailerAllowList([]string{name}); err == nil {
			t.Errorf("allow_trailers %q was accepted", name)
		}
	}
}
