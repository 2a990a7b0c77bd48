package app

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/store"
)

// During an outage, failures that store.Unavailable recognises share a
// process-wide budget of lines (a flood of anonymous requests writes about
// outageLinesPerSecond a second, not one each: the ops red team measured
// 2,750 error lines a second from one load generator), and the next line
// written says how many were left out; every other internal error is
// written, each time.
func TestLogFailureBoundsOutageLines(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	l := zap.New(core)
	down := fmt.Errorf("authenticating client: %w", store.ErrNotOpen)
	const sent = 5_000
	for range sent {
		LogFailure(l, zap.ErrorLevel, "authenticating client", down)
	}
	written := logs.FilterMessage("authenticating client").Len()
	if written == 0 || written > sent/10 {
		t.Fatalf("%d of %d outage failures were written, want a few (the budget)", written, sent)
	}
	// Lines below the logger's level take nothing from the budget.
	for outage.lines.Tokens() < outageLinesPerSecond-1 {
		time.Sleep(10 * time.Millisecond)
	}
	quiet := zap.New(core).WithOptions(zap.IncreaseLevel(zap.InfoLevel))
	for range 1_000 {
		LogFailure(quiet, zap.DebugLevel, "a caller hung up", down)
	}
	logs.TakeAll()
	LogFailure(l, zap.ErrorLevel, "authenticating client", down)
	if logs.FilterMessage("authenticating client").Len() != 1 {
		t.Fatal("debug lines never written used up the outage budget")
	}
	other := errors.New("a bug")
	for range 50 {
		LogFailure(l, zap.ErrorLevel, "signing token", other)
	}
	if n := logs.FilterMessage("signing token").Len(); n != 50 {
		t.Fatalf("%d of 50 other failures were written, want every one", n)
	}
	// Once the budget refills, the next outage line counts what was left out.
	for outage.lines.Tokens() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	outage.dropped.Store(7)
	logs.TakeAll()
	LogFailure(l, zap.ErrorLevel, "authenticating client", down)
	entries := logs.TakeAll()
	if len(entries) != 1 || entries[0].ContextMap()["like_failures_not_logged"] != int64(7) {
		t.Fatalf("the line after dropped ones: %+v, want like_failures_not_logged 7", entries)
	}
}
