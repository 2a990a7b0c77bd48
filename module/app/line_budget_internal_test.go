package app

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fixedClock stamps every entry with one instant, so a test's lines all
// fall in one second of the budget.
type fixedClock struct{ at time.Time }

func (c fixedClock) Now() time.Time                         { return c.at }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// The handlers of one config share one budget for lines anyone can cause:
// within a second, 300 refusals spread over three handlers' loggers write
// the budget's 100 lines and one in 100 after (102), not 100 each; each
// message has its budget; the apart budget (refusals of tokens the gateway
// signed) is untouched by the flood; the next second starts again; and
// another config has a budget of its own.
func TestHandlersShareOneLineBudget(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	base := zap.New(core, zap.WithClock(fixedClock{at}))
	a := &App{}
	handlers := []*zap.Logger{a.SampledLogger(base.Named("guard")), a.SampledLogger(base.Named("token")), a.SampledLogger(base.Named("strip"))}
	for i := range 300 {
		handlers[i%3].Info("token refused")
	}
	if n := logs.FilterMessage("token refused").Len(); n != 102 {
		t.Fatalf("300 refusals over three handlers of one config wrote %d lines, want 102", n)
	}
	handlers[0].Info("client authentication failed")
	a.SampledLoggerApart(base).Info("token refused")
	if n := logs.FilterMessage("client authentication failed").Len(); n != 1 {
		t.Errorf("another message after the flood: %d lines, want 1", n)
	}
	if n := logs.FilterMessage("token refused").Len(); n != 103 {
		t.Errorf("a line on the apart budget after the flood: %d lines in all, want 103", n)
	}
	later := zap.New(core, zap.WithClock(fixedClock{at.Add(time.Second)}))
	a.SampledLogger(later).Info("token refused")
	(&App{}).SampledLogger(base).Info("token refused")
	if n := logs.FilterMessage("token refused").Len(); n != 105 {
		t.Errorf("the next second and another config: %d lines in all, want 105", n)
	}
}

// Lines racing at the turn of a second arrive out of order: one stamped
// with the second before does not start the count again (each turn back
// would give a flood a fresh budget), it counts in the later second.
func TestLineBudgetDoesNotGoBackInTime(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	b := new(LineBudget)
	later := b.Logger(zap.New(core, zap.WithClock(fixedClock{at.Add(time.Second)})))
	earlier := b.Logger(zap.New(core, zap.WithClock(fixedClock{at.Add(999 * time.Millisecond)})))
	for range 150 {
		later.Info("token refused")
		earlier.Info("token refused")
	}
	if n := logs.Len(); n != 102 {
		t.Fatalf("300 lines alternating across the turn of a second wrote %d, want 102 (one budget)", n)
	}
}
