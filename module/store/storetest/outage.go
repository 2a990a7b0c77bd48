package storetest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scopegate/scopegate/module/store"
)

// Outage is a fresh database a test can make unavailable for real, the way
// an outage does, without mocking anything.
type Outage struct {
	// DSN opens the database (for PostgreSQL, through the relay).
	DSN    string
	driver string
	relay  *relay
}

// NewOutage returns a fresh database of driver. On PostgreSQL its DSN goes
// through a TCP relay on a local port, which Cut stops.
func NewOutage(t testing.TB, driver string) *Outage {
	t.Helper()
	o := &Outage{DSN: DSN(t, driver), driver: driver}
	if driver != store.Postgres {
		return o
	}
	cfg, err := pgconn.ParseConfig(PostgresBaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	o.relay = newRelay(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	o.DSN += fmt.Sprintf(" host=127.0.0.1 port=%d", o.relay.port)
	return o
}

// Cut makes the database unavailable to s, which was opened on o.DSN (s may
// be nil on PostgreSQL, where the relay is cut for every user). On
// PostgreSQL the relay stops: new connections are refused and open ones are
// reset. An SQLite file does not go away under an open handle (it survives
// chmod and unlink), so there s's connection pool is closed.
func (o *Outage) Cut(t testing.TB, s *store.Store) {
	t.Helper()
	if o.relay != nil {
		o.relay.cut()
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// Freeze makes the connections open now go silent (PostgreSQL only): the
// relay drops what either side sends on them, without closing them, as a
// link that loses packets or a host that hangs would. New connections work.
func (o *Outage) Freeze(t testing.TB) {
	t.Helper()
	if o.relay == nil {
		t.Fatal("Freeze needs PostgreSQL")
	}
	o.relay.freeze()
}

// Restore ends the outage (PostgreSQL only: a closed SQLite handle stays
// closed).
func (o *Outage) Restore(t testing.TB) {
	t.Helper()
	if o.relay == nil {
		t.Fatal("Restore needs PostgreSQL")
	}
	o.relay.listen(t)
}

// AwaitBack calls try, a request to an endpoint that needs the database,
// until it answers 200 once Restore has run. Each connection the cut left
// dead in a pool fails once when next used, answered as during the outage
// (503); any other status, or still no 200 after 100 tries, fails the test.
func (o *Outage) AwaitBack(t testing.TB, what string, try func() (status int, body string)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		status, body := try()
		if status == http.StatusOK {
			return
		}
		if status != http.StatusServiceUnavailable || attempt == 100 {
			t.Fatalf("%s after the outage, attempt %d: %d %s; want 200 (or 503 while dead connections drain)", what, attempt, status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// relay copies bytes between local connections and the server.
type relay struct {
	target string
	port   int

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}

	// A pair relays while its generation is at least frozenBelow.
	generation, frozenBelow atomic.Int64
}

func newRelay(t testing.TB, target string) *relay {
	r := &relay{target: target, conns: map[net.Conn]struct{}{}}
	r.listen(t)
	t.Cleanup(r.cut)
	return r
}

// listen accepts on the relay's port (a fresh one the first time).
func (r *relay) listen(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)))
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	r.mu.Lock()
	r.ln = ln
	r.port = ln.Addr().(*net.TCPAddr).Port
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
}

func (r *relay) serve(c net.Conn) {
	gen := r.generation.Load() // accepted before a freeze: frozen with the rest
	s, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	if !r.track(c, s) {
		c.Close()
		s.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && gen >= r.frozenBelow.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(s, c)
	go pipe(c, s)
	<-done
	c.Close()
	s.Close()
	r.mu.Lock()
	delete(r.conns, c)
	delete(r.conns, s)
	r.mu.Unlock()
}

// track registers a relayed pair, unless the relay was cut meanwhile.
func (r *relay) track(conns ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return false
	}
	for _, c := range conns {
		r.conns[c] = struct{}{}
	}
	return true
}

// freeze silences the pairs relayed so far; later ones relay.
func (r *relay) freeze() {
	r.frozenBelow.Store(r.generation.Add(1))
}

// cut stops listening and closes every relayed connection.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, as a crashed server or a dropped link would
		}
		c.Close()
		delete(r.conns, c)
	}
}
