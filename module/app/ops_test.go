package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The app registers its metrics on each config's registry (a reload
// brings a fresh one), and provisioning again on the same registry is no
// error: the collectors are shared and registered once. Caddy's pedantic
// registry gathers them without complaint, and once the app runs they
// include each cache's size and the change feed's lag; the database errors
// and allowance refusals have a zero series for each of their label values.
func TestMetricsRegisterOnEveryConfig(t *testing.T) {
	dsn := storetest.DSN(t, store.SQLite)
	for range 2 { // two configs, as a reload makes
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		a := &app.App{Database: &app.Database{Driver: store.SQLite, DSN: dsn}, MasterKey: apptest.MasterKey}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		again := &app.App{Database: &app.Database{Driver: store.SQLite, DSN: dsn}, MasterKey: apptest.MasterKey}
		if err := again.Provision(ctx); err != nil {
			t.Fatalf("provisioning twice on one registry: %v", err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		families, err := ctx.GetMetricsRegistry().Gather()
		if err != nil {
			t.Fatalf("gathering: %v", err)
		}
		names := map[string]bool{}
		for _, f := range families {
			names[f.GetName()] = true
		}
		for _, want := range []string{"caddy_scopegate_change_feed_poll_failures_total", "caddy_scopegate_cache_entries", "caddy_scopegate_change_feed_lag_seconds"} {
			if !names[want] {
				t.Errorf("%s is not gathered", want)
			}
		}
		// The series of fixed label sets are there before anything failed
		// or was refused (an alert on them must find them on a healthy node).
		series := map[string]bool{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					series[f.GetName()+" "+l.GetName()+"="+l.GetValue()] = true
				}
			}
		}
		for _, want := range []string{
			"caddy_scopegate_database_errors_total kind=unavailable", "caddy_scopegate_database_errors_total kind=other",
			"caddy_scopegate_allowance_refusals_total legs=2", "caddy_scopegate_allowance_refusals_total legs=3",
		} {
			if !series[want] {
				t.Errorf("no series %s", want)
			}
		}
		if lag := apptest.Metric(t, "caddy_scopegate_change_feed_lag_seconds"); lag > 60 {
			t.Errorf("lag %vs just after start", lag)
		}
		a.Cleanup()
		again.Cleanup()
		cancel()
	}
}

// Readiness: ready when the database answers, a signing key is loaded and
// the change feed was read recently; otherwise it says what is wrong,
// naming no host or DSN.
func TestReadiness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		a := &app.App{Database: &app.Database{Driver: driver, DSN: o.DSN}, MasterKey: apptest.MasterKey, Issuer: apptest.Issuer}
		noPolling(a) // the feed is read at start and by this node's writes only
		if err := a.OpenStandalone(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.CloseStandalone() })
		ctx := context.Background()
		if r := a.Readiness(ctx); !r.Ready || r.Checks["database"] != "ok" || r.Checks["keys"] != "ok" || r.Checks["change_feed"] != "ok" {
			t.Fatalf("a fresh app: %+v", r)
		}

		a.Runtime().SetFeedRead(time.Now().Add(-11 * time.Hour)) // ten poll intervals of an hour, and one more
		r := a.Readiness(ctx)
		// The age is read after the database ping, so a slow ping adds a
		// second or two; the hours and minutes are what matter.
		if r.Ready || !strings.HasPrefix(r.Checks["change_feed"], "last read 11h0m") || r.Checks["database"] != "ok" {
			t.Fatalf("a stale change feed: %+v", r)
		}
		a.Runtime().SetFeedRead(time.Now())

		o.Cut(t, a.Store())
		r = a.Readiness(ctx)
		if r.Ready || r.Checks["database"] != "unavailable" || r.Checks["keys"] != "ok" {
			t.Fatalf("the database cut: %+v", r)
		}
	})
}

// Failed statements are counted as database errors, unavailable apart
// from the rest; a missing row is an answer, not an error.
func TestDatabaseErrorsAreCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		a := &app.App{Database: &app.Database{Driver: driver, DSN: o.DSN}, MasterKey: apptest.MasterKey, Issuer: apptest.Issuer}
		noPolling(a)
		if err := a.OpenStandalone(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.CloseStandalone() })
		ctx := context.Background()
		errorsNow := func(kind string) float64 {
			return apptest.Metric(t, "caddy_scopegate_database_errors_total", "kind", kind)
		}
		unavailable, other := errorsNow("unavailable"), errorsNow("other")
		if _, err := a.Store().GetClient(ctx, "no-such-client"); err != store.ErrNotFound {
			t.Fatalf("looking up a missing client: %v", err)
		}
		if errorsNow("unavailable") != unavailable || errorsNow("other") != other {
			t.Fatal("a missing row was counted as a database error")
		}
		o.Cut(t, a.Store())
		if _, err := a.Store().GetClient(ctx, "no-such-client"); !store.Unavailable(err) {
			t.Fatalf("during the outage: %v", err)
		}
		if got := errorsNow("unavailable") - unavailable; got < 1 {
			t.Fatalf("the failed query was not counted as unavailable (%v)", got)
		}
	})
}

// A failed poll of the change feed is counted.
func TestPollFailuresAreCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		a := &app.App{Database: &app.Database{Driver: driver, DSN: o.DSN}, MasterKey: apptest.MasterKey, Issuer: apptest.Issuer,
			PollInterval: caddy.Duration(20 * time.Millisecond)}
		if err := a.OpenStandalone(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.CloseStandalone() })
		before := apptest.Metric(t, "caddy_scopegate_change_feed_poll_failures_total")
		o.Cut(t, a.Store())
		eventually(t, time.Minute, "a failed poll counted", func() bool {
			return apptest.Metric(t, "caddy_scopegate_change_feed_poll_failures_total") > before
		})
	})
}

// A node on PostgreSQL whose master key comes from a file of its own warns
// at start: another node would make another key and could not read the
// secrets this one seals. With master_key set, or on SQLite, it does not.
func TestLocalMasterKeyOnPostgresWarns(t *testing.T) {
	for _, tc := range []struct {
		driver, masterKey string
		warns             bool
	}{
		{store.Postgres, "", true},
		{store.Postgres, apptest.MasterKey, false},
		{store.SQLite, "", false},
	} {
		t.Run(tc.driver+"/"+map[bool]string{true: "key file", false: "master_key"}[tc.masterKey == ""], func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			a := &app.App{Database: &app.Database{Driver: tc.driver, DSN: storetest.DSN(t, tc.driver)}, Issuer: apptest.Issuer,
				MasterKey: tc.masterKey, MasterKeyFile: filepath.Join(t.TempDir(), "master.key")}
			a.SetLogger(zap.New(core))
			if err := a.OpenStandalone(); err != nil {
				t.Fatal(err)
			}
			defer a.CloseStandalone()
			warned := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("master key is local").Len() == 1
			if warned != tc.warns {
				t.Fatalf("warned %v, want %v: %v", warned, tc.warns, logs.AllUntimed())
			}
			if warned {
				m := logs.FilterLevelExact(zapcore.WarnLevel).AllUntimed()[0].ContextMap()
				if m["master_key_file"] != a.MasterKeyFile || strings.Contains(allFields(m), apptest.MasterKey) {
					t.Errorf("warning fields %v", m)
				}
			}
		})
	}
}

func allFields(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}
