// Package lazylog provides the log encoder scopegate_lazy, which wraps
// another encoder and encodes the fields a logger was built With only when
// an entry is written.
//
// Why: zap encodes With fields at once, whether or not an entry ever
// follows. Caddy's reverse_proxy builds such a logger on every proxied
// request, with the whole outgoing request (its headers included) as a
// field, for a debug entry that an INFO log never writes: about 5 µs of
// JSON encoding per request on a 2-core machine, more with the identity
// headers the guard adds. With this encoder the work is done only for
// entries that are written, as zap's own WithLazy does.
package lazylog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
	"golang.org/x/term"
)

func init() {
	caddy.RegisterModule(Encoder{})
}

// Encoder defers the encoding of a logger's context fields (those added
// With) to the moment an entry is written, then hands everything to the
// wrapped encoder. The entries it writes are the wrapped encoder's, byte for
// byte.
//
// A field added With is read when the logger's first entry is written, not
// when it was added: a value a field points to (an object, an array, a
// reflected value) and that changes in between is logged as it is then, and
// the logger's later entries repeat it. zap's WithLazy has the same rule;
// Caddy's own request logs rely on it.
type Encoder struct {
	// The encoder that writes the entries. If not specified, "json",
	// unless the output is a terminal, in which case "console" (as Caddy
	// chooses for a log without a format).
	WrappedRaw json.RawMessage `json:"wrap,omitempty" caddy:"namespace=caddy.logging.encoders inline_key=format"`

	// The root of the encoders it clones: no context fields.
	*contextEncoder
	wrappedIsDefault bool
	ctx              caddy.Context
}

// contextEncoder is the encoder of a logger built With fields: the wrapped
// encoder and the fields, not yet encoded. It is kept apart from Encoder so
// that a clone, made for every With, is small.
type contextEncoder struct {
	wrapped zapcore.Encoder
	// context holds the fields added With so far, in order.
	context []zapcore.Field
	// eager, once set, is a clone of wrapped into which the context was
	// encoded and every later field goes at once (see writesBack).
	eager zapcore.Encoder
	// encoded holds the context encoded into a clone of wrapped, made for
	// the first entry written and reused for the next ones, as zap's
	// WithLazy does: a logger that writes many lines encodes its context
	// once, every line holds the values as they were at the first, and a
	// logger built With more fields after that starts from the encoded
	// context, as an eager encoder's would.
	once    sync.Once
	encoded atomic.Pointer[encodedContext]
}

type encodedContext struct{ enc zapcore.Encoder }

// writesBack reports whether m writes into an encoder of its own instead
// of the one it is given: Caddy's filter encoder, wrapping this one, hands
// it such a marshaler for every object, which writes through the filter
// back into this encoder. Replayed later, its fields would land here, in a
// logger's shared context, instead of in the object being encoded; encoded
// at once, as an eager encoder does, they land in the object.
func writesBack(m any) bool {
	t := reflect.TypeOf(m)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.PkgPath() == caddyLoggingPkg
}

var caddyLoggingPkg = reflect.TypeOf(logging.FilterEncoder{}).PkgPath()

// goEager encodes the context into a clone of the wrapped encoder, which
// takes every later field at once.
func (e *contextEncoder) goEager() {
	if e.eager != nil {
		return
	}
	e.eager = e.wrapped.Clone()
	for _, f := range e.context {
		f.AddTo(e.eager)
	}
	e.context = nil
}

// CaddyModule returns the Caddy module information.
func (Encoder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.logging.encoders.scopegate_lazy",
		New: func() caddy.Module { return new(Encoder) },
	}
}

// Provision loads the wrapped encoder.
func (e *Encoder) Provision(ctx caddy.Context) error {
	e.ctx = ctx
	e.contextEncoder = &contextEncoder{}
	if e.WrappedRaw == nil {
		e.wrapped = &logging.JSONEncoder{}
		e.wrappedIsDefault = true
		return e.provisionWrapped()
	}
	mod, err := ctx.LoadModule(e, "WrappedRaw")
	if err != nil {
		return fmt.Errorf("loading the wrapped encoder: %w", err)
	}
	enc, ok := mod.(zapcore.Encoder)
	if !ok {
		return fmt.Errorf("wrapped module %T is not a log encoder", mod)
	}
	e.wrapped = enc
	return nil
}

func (e *Encoder) provisionWrapped() error {
	if p, ok := e.wrapped.(caddy.Provisioner); ok {
		if err := p.Provision(e.ctx); err != nil {
			return fmt.Errorf("provisioning the wrapped encoder: %w", err)
		}
	}
	return nil
}

// ConfigureDefaultFormat makes the default wrapped encoder "console" when
// the log goes to a terminal, as Caddy does for a log without a format, and
// passes the writer on to a wrapped encoder that nests one of its own.
func (e *Encoder) ConfigureDefaultFormat(wo caddy.WriterOpener) error {
	if !e.wrappedIsDefault {
		if cfd, ok := e.wrapped.(caddy.ConfiguresFormatterDefault); ok {
			return cfd.ConfigureDefaultFormat(wo)
		}
		return nil
	}
	if caddy.IsWriterStandardStream(wo) && term.IsTerminal(int(os.Stderr.Fd())) {
		e.wrapped = &logging.ConsoleEncoder{}
		return e.provisionWrapped()
	}
	return nil
}

// UnmarshalCaddyfile sets up the module from Caddyfile tokens. Syntax:
//
//	scopegate_lazy {
//	    wrap <another encoder>
//	}
func (e *Encoder) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the encoder's name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "wrap":
			if e.WrappedRaw != nil {
				return d.Errf("wrap given twice")
			}
			if !d.NextArg() {
				return d.ArgErr()
			}
			name := d.Val()
			unm, err := caddyfile.UnmarshalModule(d, "caddy.logging.encoders."+name)
			if err != nil {
				return err
			}
			if _, ok := unm.(zapcore.Encoder); !ok {
				return d.Errf("module %s is not a log encoder", name)
			}
			e.WrappedRaw = caddyconfig.JSONModuleObject(unm, "format", name, nil)
		default:
			return d.Errf("unrecognized scopegate_lazy option %q", d.Val())
		}
	}
	return nil
}

// Clone is part of zapcore.Encoder: a logger built With fields clones its
// encoder and adds the fields to the clone. The clone has its own copy of
// the fields, with room for a few more (With usually adds one to three), so
// that its appends never touch another logger's fields.
func (e *contextEncoder) Clone() zapcore.Encoder {
	if e.eager != nil {
		return &contextEncoder{wrapped: e.wrapped, eager: e.eager.Clone()}
	}
	if ec := e.encoded.Load(); ec != nil {
		return &contextEncoder{wrapped: e.wrapped, eager: ec.enc.Clone()}
	}
	c := &contextEncoder{wrapped: e.wrapped, context: make([]zapcore.Field, len(e.context), len(e.context)+4)}
	copy(c.context, e.context)
	return c
}

// EncodeEntry encodes the context fields and then the entry with the
// wrapped encoder.
func (e *contextEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	if e.eager != nil {
		return e.eager.EncodeEntry(ent, fields)
	}
	if len(e.context) == 0 {
		return e.wrapped.EncodeEntry(ent, fields)
	}
	e.once.Do(func() {
		enc := e.wrapped.Clone()
		for _, f := range e.context {
			f.AddTo(enc)
		}
		e.encoded.Store(&encodedContext{enc})
	})
	return e.encoded.Load().enc.EncodeEntry(ent, fields)
}

func (e *contextEncoder) add(f zapcore.Field) {
	if e.eager != nil {
		f.AddTo(e.eager)
		return
	}
	e.context = append(e.context, f)
}

// The zapcore.ObjectEncoder methods record the field for later. A
// marshaler's error, returned at once by an eager encoder, is written into
// the entry as the key's "Error" field when it is encoded (zap's own
// handling of such errors in With).

// AddArray is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddArray(key string, m zapcore.ArrayMarshaler) error {
	if writesBack(m) {
		e.goEager()
	}
	if e.eager != nil {
		return e.eager.AddArray(key, m)
	}
	e.context = append(e.context, zap.Array(key, m))
	return nil
}

// AddObject is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddObject(key string, m zapcore.ObjectMarshaler) error {
	if writesBack(m) {
		e.goEager()
	}
	if e.eager != nil {
		return e.eager.AddObject(key, m)
	}
	e.context = append(e.context, zap.Object(key, m))
	return nil
}

// AddBinary is part of zapcore.ObjectEncoder. The bytes are copied: the
// caller may reuse them.
func (e *contextEncoder) AddBinary(key string, v []byte) { e.add(zap.Binary(key, bytes.Clone(v))) }

// AddByteString is part of zapcore.ObjectEncoder; the bytes are copied.
func (e *contextEncoder) AddByteString(key string, v []byte) {
	e.add(zap.ByteString(key, bytes.Clone(v)))
}

// AddBool is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddBool(key string, v bool) { e.add(zap.Bool(key, v)) }

// AddComplex128 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddComplex128(key string, v complex128) { e.add(zap.Complex128(key, v)) }

// AddComplex64 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddComplex64(key string, v complex64) { e.add(zap.Complex64(key, v)) }

// AddDuration is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddDuration(key string, v time.Duration) { e.add(zap.Duration(key, v)) }

// AddFloat64 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddFloat64(key string, v float64) { e.add(zap.Float64(key, v)) }

// AddFloat32 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddFloat32(key string, v float32) { e.add(zap.Float32(key, v)) }

// AddInt is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddInt(key string, v int) { e.add(zap.Int(key, v)) }

// AddInt64 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddInt64(key string, v int64) { e.add(zap.Int64(key, v)) }

// AddInt32 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddInt32(key string, v int32) { e.add(zap.Int32(key, v)) }

// AddInt16 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddInt16(key string, v int16) { e.add(zap.Int16(key, v)) }

// AddInt8 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddInt8(key string, v int8) { e.add(zap.Int8(key, v)) }

// AddString is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddString(key, v string) { e.add(zap.String(key, v)) }

// AddTime is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddTime(key string, v time.Time) { e.add(zap.Time(key, v)) }

// AddUint is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddUint(key string, v uint) { e.add(zap.Uint(key, v)) }

// AddUint64 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddUint64(key string, v uint64) { e.add(zap.Uint64(key, v)) }

// AddUint32 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddUint32(key string, v uint32) { e.add(zap.Uint32(key, v)) }

// AddUint16 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddUint16(key string, v uint16) { e.add(zap.Uint16(key, v)) }

// AddUint8 is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddUint8(key string, v uint8) { e.add(zap.Uint8(key, v)) }

// AddUintptr is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddUintptr(key string, v uintptr) { e.add(zap.Uintptr(key, v)) }

// AddReflected is part of zapcore.ObjectEncoder.
func (e *contextEncoder) AddReflected(key string, v any) error {
	if e.eager != nil {
		return e.eager.AddReflected(key, v)
	}
	e.context = append(e.context, zap.Reflect(key, v))
	return nil
}

// OpenNamespace is part of zapcore.ObjectEncoder.
func (e *contextEncoder) OpenNamespace(key string) { e.add(zap.Namespace(key)) }

// Interface guards
var (
	_ zapcore.Encoder                  = (*Encoder)(nil)
	_ caddy.Provisioner                = (*Encoder)(nil)
	_ caddy.ConfiguresFormatterDefault = (*Encoder)(nil)
	_ caddyfile.Unmarshaler            = (*Encoder)(nil)
)
