package issuer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/store"
)

// benchmarkIssue drives the full ServeHTTP path (form parsing, Basic auth
// against the warm client cache, scope resolution, signing, JSON answer)
// from parallel goroutines and reports tokens per second. With allowance
// set, every token also takes a row lock and a write in the database.
func benchmarkIssue(b *testing.B, driver string, allowance bool) {
	f := newFixture(b, driver)
	c := store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write"}, DefaultScopes: store.Strings{"demo.read"}}
	if allowance {
		c.MaxMinutesPerDay = 1 << 30
	}
	cl, secret := f.client(c)
	h := f.endpoint(&TokenEndpoint{})
	h.logger = zap.NewNop() // debug logging off, as in production
	body := ccForm("scope", "demo.read demo.write").Encode()
	auth := basic(cl.ID, secret)
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		return r
	}
	// Warm the client cache and check the path works before timing it.
	if rec := httptest.NewRecorder(); h.ServeHTTP(rec, newReq(), nil) != nil || rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			_ = h.ServeHTTP(rec, newReq(), nil)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkIssueClientCredentials: 2-legged tokens on SQLite (no database
// work once the client is cached).
func BenchmarkIssueClientCredentials(b *testing.B) { benchmarkIssue(b, store.SQLite, false) }

// BenchmarkIssueClientCredentialsPostgres: the same on PostgreSQL.
func BenchmarkIssueClientCredentialsPostgres(b *testing.B) { benchmarkIssue(b, store.Postgres, false) }

// BenchmarkIssueDailyAllowance: a client with a daily allowance, so every
// token is a locked read-modify-write of its usage row (SQLite).
func BenchmarkIssueDailyAllowance(b *testing.B) { benchmarkIssue(b, store.SQLite, true) }

// BenchmarkIssueDailyAllowancePostgres: the same on PostgreSQL.
func BenchmarkIssueDailyAllowancePostgres(b *testing.B) { benchmarkIssue(b, store.Postgres, true) }
