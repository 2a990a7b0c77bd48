package app

import (
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"github.com/scopegate/scopegate/module/store"
)

// While the database is unavailable every request that needs it fails the
// same way, and anyone can send such requests (a made-up client_id at the
// token endpoint): one error line each would write gigabytes an hour and
// bury the lines that say what else went wrong. Those failures share one
// process-wide budget of outageLinesPerSecond lines; the next line written
// says how many were left out. The metrics and /healthz still count and
// report every one. Other internal errors are always written.
const outageLinesPerSecond = 10

var outage = struct {
	lines   *rate.Limiter
	dropped atomic.Int64
}{lines: rate.NewLimiter(outageLinesPerSecond, outageLinesPerSecond)}

// LogFailure writes msg with err at level to l, within the outage budget
// when store.Unavailable(err).
func LogFailure(l *zap.Logger, level zapcore.Level, msg string, err error, fields ...zap.Field) {
	if l == nil {
		return
	}
	ce := l.Check(level, msg)
	if ce == nil {
		return // not written at this level: it takes nothing from the budget
	}
	if store.Unavailable(err) {
		if !outage.lines.Allow() {
			outage.dropped.Add(1)
			return
		}
		if n := outage.dropped.Swap(0); n > 0 {
			fields = append(fields, zap.Int64("like_failures_not_logged", n))
		}
	}
	ce.Write(append(fields, zap.Error(err))...)
}
