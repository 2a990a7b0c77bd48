package lazylog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// fixedClock makes two loggers stamp the same time on their entries.
type fixedClock struct{}

func (fixedClock) Now() time.Time                       { return time.Unix(1700000000, 0) }
func (fixedClock) NewTicker(time.Duration) *time.Ticker { return time.NewTicker(time.Hour) }

func provisioned(t testing.TB, e zapcore.Encoder) zapcore.Encoder {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if p, ok := e.(caddy.Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			t.Fatalf("provisioning %T: %v", e, err)
		}
	}
	return e
}

func loggerTo(enc zapcore.Encoder, out *bytes.Buffer, level zapcore.Level) *zap.Logger {
	core := zapcore.NewCore(enc, zapcore.AddSync(out), level)
	return zap.New(core, zap.WithClock(fixedClock{}))
}

// countingObject counts how often it is encoded.
type countingObject struct{ n *atomic.Int32 }

func (o countingObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	o.n.Add(1)
	enc.AddString("k", "v")
	return nil
}

type failingObject struct{}

func (failingObject) MarshalLogObject(zapcore.ObjectEncoder) error { return errors.New("no") }

// logEverything drives a logger through every kind of context field zap
// has, nested loggers, namespaces and a marshaler's error.
func logEverything(log *zap.Logger) {
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/api/x?y=1", nil)
	// One header: a map's order differs from one encoding to the next.
	req.Header.Set("Authorization", "Bearer secret")
	ctxLog := log.Named("http.handlers.reverse_proxy").With(
		zap.String("upstream", "127.0.0.1:8081"),
		zap.Duration("duration", 1500*time.Microsecond),
		zap.Object("request", caddyhttp.LoggableHTTPRequest{Request: req}),
		zap.Bool("b", true), zap.Int("i", -3), zap.Int64("i64", 1<<40), zap.Int32("i32", 7), zap.Int16("i16", 8), zap.Int8("i8", 9),
		zap.Uint("u", 3), zap.Uint64("u64", 1<<50), zap.Uint32("u32", 4), zap.Uint16("u16", 5), zap.Uint8("u8", 6), zap.Uintptr("p", 10),
		zap.Float64("f64", 1.5), zap.Float32("f32", 2.5), zap.Complex128("c128", 1+2i), zap.Complex64("c64", 3+4i),
		zap.Binary("bin", []byte{1, 2, 3}), zap.ByteString("bs", []byte("bytes\n")),
		zap.Time("t", time.Unix(1600000000, 5).UTC()), zap.Strings("arr", []string{"a", "b"}),
		zap.Reflect("refl", map[string]int{"x": 1}), zap.Object("bad", failingObject{}),
	)
	ctxLog.Info("first", zap.String("own", "field"))
	nested := ctxLog.With(zap.Namespace("ns"), zap.String("inner", "1"))
	nested.Warn("second", zap.Int("n", 2))
	nested.With(zap.String("deeper", "2")).Error("third")
	ctxLog.Debug("debug is written at debug level")
	log.Info("no context")
}

// TestOutputIsTheWrappedEncoders checks that every entry the lazy encoder
// writes is byte for byte what the wrapped encoder writes on its own, for
// every kind of field, nested With, namespaces and a failing marshaler.
func TestOutputIsTheWrappedEncoders(t *testing.T) {
	var eager, lazy bytes.Buffer
	logEverything(loggerTo(provisioned(t, &logging.JSONEncoder{}), &eager, zapcore.DebugLevel))
	logEverything(loggerTo(provisioned(t, &Encoder{}), &lazy, zapcore.DebugLevel))
	if eager.Len() == 0 || strings.Count(eager.String(), "\n") != 5 {
		t.Fatalf("the eager logger wrote %q, want five entries", eager.String())
	}
	if lazy.String() != eager.String() {
		t.Fatalf("lazy encoder output differs:\n lazy: %s\neager: %s", lazy.String(), eager.String())
	}
	for _, want := range []string{`"ns":{"inner":"1","n":2}`, `"badError":"no"`, `"Authorization":["REDACTED"]`} {
		if !strings.Contains(lazy.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, lazy.String())
		}
	}
}

// TestContextIsEncodedOnlyForWrittenEntries checks the point of the
// encoder: a field added With is not encoded when the logger is built, nor
// for an entry the level drops, and is encoded once per written entry.
func TestContextIsEncodedOnlyForWrittenEntries(t *testing.T) {
	var n atomic.Int32
	var out bytes.Buffer
	log := loggerTo(provisioned(t, &Encoder{}), &out, zapcore.InfoLevel)
	ctxLog := log.With(zap.Object("request", countingObject{&n}))
	if c := ctxLog.Check(zapcore.DebugLevel, "dropped"); c != nil {
		c.Write()
	}
	if got := n.Load(); got != 0 {
		t.Fatalf("the context was encoded %d times before any entry was written, want 0", got)
	}
	ctxLog.Info("written")
	ctxLog.Info("written again")
	if got := n.Load(); got != 1 {
		t.Fatalf("the context was encoded %d times for two written entries, want 1 (once, at the first)", got)
	}
	if strings.Count(out.String(), `"request":{"k":"v"}`) != 2 {
		t.Fatalf("output %q lacks the context in each entry", out.String())
	}

	// The eager JSON encoder, for contrast, encodes it when With is called.
	var m atomic.Int32
	loggerTo(provisioned(t, &logging.JSONEncoder{}), &out, zapcore.InfoLevel).With(zap.Object("request", countingObject{&m}))
	if m.Load() != 1 {
		t.Fatalf("the JSON encoder encoded the context %d times at With, want 1 (the premise of this module)", m.Load())
	}
}

// TestSiblingLoggersKeepTheirOwnContext checks that two loggers built With
// different fields from one parent (whose context has spare capacity) never
// see each other's fields.
func TestSiblingLoggersKeepTheirOwnContext(t *testing.T) {
	var out bytes.Buffer
	parent := loggerTo(provisioned(t, &Encoder{}), &out, zapcore.InfoLevel).With(zap.String("p1", "a"), zap.String("p2", "b"), zap.String("p3", "c"))
	left := parent.With(zap.String("side", "left"))
	right := parent.With(zap.String("side", "right"))
	left.Info("l")
	right.Info("r")
	parent.Info("p")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d entries, want 3: %q", len(lines), out.String())
	}
	for i, want := range []string{`"side":"left"}`, `"side":"right"}`, `"p3":"c"}`} {
		if !strings.HasSuffix(lines[i], want) || strings.Count(lines[i], `"side"`) > 1 || !strings.Contains(lines[i], `"p1":"a","p2":"b","p3":"c"`) {
			t.Errorf("entry %d = %s, want it to end with %s and name one side", i, lines[i], want)
		}
	}
}

// TestCopiesBytes checks that bytes added With are copied, since the caller
// may reuse its buffer before an entry is written.
func TestCopiesBytes(t *testing.T) {
	var out bytes.Buffer
	buf := []byte("before")
	log := loggerTo(provisioned(t, &Encoder{}), &out, zapcore.InfoLevel).With(zap.ByteString("bs", buf))
	copy(buf, "AFTER!")
	log.Info("x")
	if !strings.Contains(out.String(), `"bs":"before"`) {
		t.Fatalf("output %q does not hold the bytes as they were added", out.String())
	}
}

// TestCaddyfile checks the syntax: bare, with a wrapped encoder, and the
// mistakes it refuses.
func TestCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in, wrap, err string
	}{
		{in: `scopegate_lazy`},
		{in: "scopegate_lazy {\n wrap console\n}", wrap: `{"format":"console"}`},
		{in: "scopegate_lazy {\n wrap json {\n  time_format iso8601\n }\n}", wrap: `{"format":"json","time_format":"iso8601"}`},
		{in: `scopegate_lazy json`, err: "wrong argument count"},
		{in: "scopegate_lazy {\n wrap\n}", err: "wrong argument count"},
		{in: "scopegate_lazy {\n wrap nosuch\n}", err: "nosuch"},
		{in: "scopegate_lazy {\n wrap json\n wrap console\n}", err: "wrap given twice"},
		{in: "scopegate_lazy {\n level debug\n}", err: `unrecognized scopegate_lazy option "level"`},
	} {
		var e Encoder
		err := e.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.err == "" && string(e.WrappedRaw) != tc.wrap:
			t.Errorf("%q: wrap %s, want %s", tc.in, e.WrappedRaw, tc.wrap)
		}
	}
}

// TestWrapsTheNamedEncoder checks that a wrapped encoder is loaded and
// writes the entries (console output, not JSON).
func TestWrapsTheNamedEncoder(t *testing.T) {
	var e Encoder
	if err := e.UnmarshalCaddyfile(caddyfile.NewTestDispenser("scopegate_lazy {\n wrap console\n}")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	loggerTo(provisioned(t, &e), &out, zapcore.InfoLevel).With(zap.String("k", "v")).Info("hello")
	if got := out.String(); !strings.Contains(got, "INFO") || !strings.Contains(got, `{"k": "v"}`) || strings.HasPrefix(got, "{") {
		t.Fatalf("output %q is not the console encoder's", got)
	}
}

// BenchmarkWithAndDroppedDebug is reverse_proxy's pattern on every proxied
// request: a logger built With the request, then a debug entry an INFO log
// drops.
func BenchmarkWithAndDroppedDebug(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/api/x", nil)
	for _, h := range []string{"Authorization", "User-Agent", "Accept-Encoding", "X-Scopegate-Client-Id", "X-Scopegate-Tenant", "X-Scopegate-Scopes", "X-Scopegate-Legs", "X-Forwarded-For"} {
		req.Header.Set(h, "value-of-"+h)
	}
	for name, enc := range map[string]zapcore.Encoder{"json": &logging.JSONEncoder{}, "lazy": &Encoder{}} {
		b.Run(name, func(b *testing.B) {
			log := loggerTo(provisioned(b, enc), &bytes.Buffer{}, zapcore.InfoLevel)
			b.ReportAllocs()
			for b.Loop() {
				l := log.With(zap.String("upstream", "127.0.0.1:8081"), zap.Duration("duration", time.Millisecond),
					zap.Object("request", caddyhttp.LoggableHTTPRequest{Request: req}))
				if c := l.Check(zapcore.DebugLevel, "upstream roundtrip"); c != nil {
					c.Write()
				}
			}
		})
	}
}

// filterOver returns Caddy's filter encoder wrapping the encoder format,
// deleting the field "secret" (the way operators redact their logs).
func filterOver(t testing.TB, format string) zapcore.Encoder {
	t.Helper()
	return provisioned(t, &logging.FilterEncoder{
		WrappedRaw: json.RawMessage(`{"format":"` + format + `"}`),
		FieldsRaw:  map[string]json.RawMessage{"secret": json.RawMessage(`{"filter":"delete"}`)},
	})
}

// TestUnderCaddysFilterEncoder checks the encoder wrapped by Caddy's
// filter encoder, which hands it marshalers writing back through the filter:
// the lines are the filter-over-JSON lines (objects keep their fields, the
// filtered field is gone), a logger's context does not grow with each line,
// and loggers shared by goroutines do not race (run with -race).
func TestUnderCaddysFilterEncoder(t *testing.T) {
	run := func(enc zapcore.Encoder) string {
		var out bytes.Buffer
		log := loggerTo(enc, &out, zapcore.InfoLevel)
		logEverything(log)
		ctxLog := log.With(zap.Object("obj", countingObject{new(atomic.Int32)}), zap.String("secret", "s3"))
		for range 3 {
			ctxLog.Info("again", zap.Object("entry", countingObject{new(atomic.Int32)}))
		}
		return out.String()
	}
	eager, lazy := run(filterOver(t, "json")), run(filterOver(t, "scopegate_lazy"))
	if lazy != eager {
		t.Fatalf("filter over scopegate_lazy differs from filter over json:\n lazy: %s\neager: %s", lazy, eager)
	}
	if strings.Contains(lazy, "s3") || strings.Count(lazy, `"obj":{"k":"v"},"entry":{"k":"v"}}`) != 3 {
		t.Fatalf("unexpected lines:\n%s", lazy)
	}

	var out syncBuffer
	core := zapcore.NewCore(filterOver(t, "scopegate_lazy"), zapcore.AddSync(&out), zapcore.InfoLevel)
	log := zap.New(core).With(zap.Object("obj", countingObject{new(atomic.Int32)}))
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				log.Info("parallel", zap.Object("entry", countingObject{new(atomic.Int32)}))
			}
		}()
	}
	for range 4 {
		<-done
	}
	if n := strings.Count(out.String(), `{"level":"info"`); n != 200 || strings.Count(out.String(), `"obj":{"k":"v"},"entry":{"k":"v"}}`) != 200 {
		t.Fatalf("%d lines from 4 goroutines × 50, want 200 alike:\n%.2000s", n, out.String())
	}
}

// syncBuffer is a bytes.Buffer for many writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
