package lazylog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/logging"
	"go.uber.org/multierr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type strT string

func (s strT) String() string { return string(s) }

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s }

type obj struct{ a, b string }

func (o obj) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("a", o.a)
	enc.OpenNamespace("inner")
	enc.AddString("b", o.b)
	return nil
}

type arr []int

func (a arr) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, v := range a {
		enc.AppendInt(v)
	}
	return enc.AppendObject(obj{"x", "y"})
}

// outer is an object with a nested object that fails: its error propagates.
type outer struct{}

func (outer) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("before", "1")
	return enc.AddObject("inner", failingObject{})
}

type badReflect struct{ C chan int }

func manyFields() []zap.Field {
	return []zap.Field{
		zap.String("s", "str\"q\n"), zap.Int("i", 1), zap.Object("o", obj{"1", "2"}), zap.Array("arr", arr{1, 2}),
		zap.Error(errors.New("boom")), zap.NamedError("ne", fmt.Errorf("wrapped: %w", errors.New("x"))),
		zap.Error(multierr.Combine(errors.New("e1"), errors.New("e2"))),
		zap.Skip(), zap.Stringer("st", strT("stringer")), zap.Stringer("nilst", (*nilStringer)(nil)),
		zap.Reflect("r", map[string]any{"k": []int{1}}), zap.Reflect("badr", badReflect{}),
		zap.ByteString("bs", []byte("b\x00s")), zap.Binary("bin", []byte{0, 255}),
		zap.Duration("d", 1500*time.Millisecond), zap.Time("t", time.Unix(1, 2).In(time.FixedZone("X", 3600))),
		zap.Inline(obj{"in", "line"}), zap.Dict("dict", zap.String("x", "y"), zap.Namespace("dn"), zap.Int("z", 1)),
		zap.Objects("objs", []obj{{"p", "q"}}), zap.Strings("ss", []string{"a"}), zap.Any("any", []any{1, "x"}),
		zap.Object("outer", outer{}), zap.Object("bad", failingObject{}), zap.Float64("f", 1.25),
	}
}

func drive(log *zap.Logger) {
	f := manyFields()
	l1 := log.With(f...)
	l1.Info("one", zap.String("e", "1"))
	ns := l1.With(zap.Namespace("ns1"))
	ns.Info("ns only")
	ns2 := ns.With(zap.String("k", "v"), zap.Namespace("ns2"), zap.Int("deep", 1))
	ns2.Info("two", zap.String("e", "2"), zap.Namespace("entryns"), zap.Int("x", 3))
	sib := ns.With(zap.String("sib", "x"))
	ns2.Warn("three", f...)
	sib.Info("sib")
	l1.With().Info("empty with")
	log.With(zap.Namespace("only")).Info("ns no fields")
	log.With(zap.Namespace("a"), zap.Namespace("b")).Info("two ns", zap.Namespace("c"))
	log.Info("plain", f...)
}

func encoders(t testing.TB, format string) (eager, lazy zapcore.Encoder) {
	switch format {
	case "json":
		return provisioned(t, &logging.JSONEncoder{}), provisioned(t, &Encoder{})
	case "console":
		return provisioned(t, &logging.ConsoleEncoder{}), provisioned(t, &Encoder{WrappedRaw: json.RawMessage(`{"format":"console"}`)})
	case "filter-over":
		return filterOver(t, "json"), filterOver(t, "scopegate_lazy")
	case "wraps-filter":
		return filterOver(t, "json"), provisioned(t, &Encoder{WrappedRaw: json.RawMessage(`{"format":"filter","wrap":{"format":"json"},"fields":{"secret":{"filter":"delete"}}}`)})
	}
	t.Fatal(format)
	return nil, nil
}

// TestSameBytesAsTheWrappedEncoderForEveryKindOfField checks that the lazy
// encoder writes what the eager one writes, line for line, for every kind
// of zap field, namespaces in With, sibling loggers and a failing nested
// object, in four setups: json, console, under Caddy's filter and wrapping
// it.
func TestSameBytesAsTheWrappedEncoderForEveryKindOfField(t *testing.T) {
	for _, format := range []string{"json", "console", "filter-over", "wraps-filter"} {
		t.Run(format, func(t *testing.T) {
			e, l := encoders(t, format)
			var eo, lo bytes.Buffer
			drive(loggerTo(e, &eo, zapcore.DebugLevel))
			drive(loggerTo(l, &lo, zapcore.DebugLevel))
			el, ll := strings.Split(eo.String(), "\n"), strings.Split(lo.String(), "\n")
			if len(el) != len(ll) {
				t.Fatalf("line counts %d vs %d", len(el), len(ll))
			}
			for i := range el {
				if el[i] != ll[i] {
					t.Errorf("line %d differs:\neager: %s\n lazy: %s", i, el[i], ll[i])
				}
			}
		})
	}
}

// TestInterleavedSiblingsKeepTheirOwnFields checks that children and
// grandchildren built from one parent in an interleaved order (spare slice
// capacity included) each write their own fields, as with json.
func TestInterleavedSiblingsKeepTheirOwnFields(t *testing.T) {
	for _, format := range []string{"json", "filter-over"} {
		e, l := encoders(t, format)
		run := func(enc zapcore.Encoder) string {
			var out bytes.Buffer
			p := loggerTo(enc, &out, zapcore.InfoLevel)
			for i := range 6 {
				p = p.With(zap.Int(fmt.Sprint("p", i), i))
			}
			a := p.With(zap.String("a", "1"))
			b := p.With(zap.String("b", "1"))
			a2 := a.With(zap.String("a", "2"), zap.Object("o", obj{"x", "y"}))
			b2 := b.With(zap.String("b", "2"))
			a3 := a.With(zap.String("a", "3"))
			b3 := b.With(zap.String("b", "3"))
			for _, l := range []*zap.Logger{p, a, b, a2, b2, a3, b3} {
				l.Info("x")
			}
			return out.String()
		}
		if g, w := run(l), run(e); g != w {
			t.Errorf("%s:\n lazy: %s\neager: %s", format, g, w)
		}
	}
}

// TestConcurrentWithAndWrite checks that 16 goroutines building loggers
// from shared parents and writing lines lose none (and, under -race, race
// on nothing), in all four setups.
func TestConcurrentWithAndWrite(t *testing.T) {
	for _, format := range []string{"json", "console", "filter-over", "wraps-filter"} {
		_, l := encoders(t, format)
		var out syncBuffer
		core := zapcore.NewCore(l, zapcore.AddSync(&out), zapcore.InfoLevel)
		parent := zap.New(core).With(zap.String("p", "1"), zap.Namespace("ns"), zap.Object("o", obj{"a", "b"}))
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					c := parent.With(zap.Int("g", g))
					c.With(zap.Int("i", i)).Info("m", zap.Object("e", obj{"c", "d"}))
				}
			}()
		}
		wg.Wait()
		if n := strings.Count(out.String(), "\n"); n != 1600 {
			t.Errorf("%s: %d lines", format, n)
		}
	}
}

// TestFieldsAreReadAtTheFirstWrittenLineLikeWithLazy checks the README's
// rule, which is zap's WithLazy's: a logger's fields are read at its first
// written line, and its later lines repeat those values.
func TestFieldsAreReadAtTheFirstWrittenLineLikeWithLazy(t *testing.T) {
	var lazyOut, zapOut bytes.Buffer
	m := map[string]int{"v": 1}
	lazy := loggerTo(provisioned(t, &Encoder{}), &lazyOut, zapcore.InfoLevel).With(zap.Reflect("m", m))
	zl := loggerTo(provisioned(t, &logging.JSONEncoder{}), &zapOut, zapcore.InfoLevel).WithLazy(zap.Reflect("m", m))
	lazy.Info("a")
	zl.Info("a")
	m["v"] = 2
	lazy.Info("b")
	zl.Info("b")
	if lazyOut.String() != zapOut.String() {
		t.Fatalf("scopegate_lazy:\n%szap WithLazy:\n%s", lazyOut.String(), zapOut.String())
	}
}

// TestContextIsEncodedOncePerLogger checks that a logger writing many lines
// (reverse_proxy at DEBUG writes several per request and per streamed
// chunk) encodes its context once, as an eager encoder and zap's WithLazy
// do, and not once per line.
func TestContextIsEncodedOncePerLogger(t *testing.T) {
	var n atomic.Int32
	log := loggerTo(provisioned(t, &Encoder{}), &bytes.Buffer{}, zapcore.DebugLevel).With(zap.Object("request", countingObject{&n}))
	for range 100 {
		log.Debug("line")
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("context encoded %d times for 100 lines of one logger, want 1", got)
	}
}

// BenchmarkDebugStreaming is reverse_proxy's streaming loop with debug
// lines written (modules/caddyhttp/reverseproxy/streaming.go): one logger
// With the request, then per chunk a With("read") and three debug lines.
// The lazy encoder must cost about what json costs here, where every line
// is written, as well as saving the encoding when none is.
func BenchmarkDebugStreaming(b *testing.B) {
	req, err := http.NewRequest(http.MethodGet, "http://example.com/api/x", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range []string{"Authorization", "User-Agent", "Accept-Encoding", "X-Scopegate-Client-Id", "X-Scopegate-Tenant", "X-Scopegate-Scopes", "X-Forwarded-For"} {
		req.Header.Set(h, "value-of-"+h)
	}
	eager, lazy := encoders(b, "json")
	for _, bc := range []struct {
		name string
		enc  zapcore.Encoder
	}{{"json", eager}, {"lazy", lazy}} {
		b.Run(bc.name, func(b *testing.B) {
			log := zap.New(zapcore.NewCore(bc.enc, zapcore.AddSync(io.Discard), zapcore.DebugLevel))
			b.ReportAllocs()
			for b.Loop() {
				rl := log.With(zap.String("upstream", "127.0.0.1:8081"), zap.Duration("duration", time.Millisecond),
					zap.Object("request", caddyhttp.LoggableHTTPRequest{Request: req}))
				for range 16 {
					rl.Debug("waiting to read from upstream")
					cl := rl.With(zap.Int("read", 32*1024))
					cl.Debug("read from upstream")
					cl.Debug("writing to downstream")
					cl.Debug("wrote to downstream")
				}
			}
		})
	}
}
