package main

// The propagation phase's cluster: its database, its caddy processes, their
// metrics, and the notifications that tell when a change committed.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/scopegate/scopegate/module/store"
)

// freshDatabase creates a PostgreSQL database for the run and returns its
// DSN and what drops it.
func freshDatabase(ctx context.Context) (dsn string, drop func(), err error) {
	base := *postgresDSN
	if base == "" {
		base = os.Getenv("SCOPEGATE_TEST_POSTGRES_DSN")
	}
	if base == "" {
		base = "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable"
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("the propagation phase needs PostgreSQL (-postgres): %w", err)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "scopegate_load_" + hex.EncodeToString(suffix)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	return base + " dbname=" + name, func() {
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "load: dropping database %s: %v\n", name, err)
		}
		conn.Close(ctx)
	}, nil
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// startNode runs cfg in a caddy process with its own ports and data
// directory (the rest of its environment is the run's, then extraEnv's
// KEY=value pairs), waits until it answers, and returns what stops it.
func startNode(bin, cfg, tmp, name string, extraEnv ...string) (*loadNode, func(), error) {
	port, demo, admin := freePort(), freePort(), freePort()
	logPath := filepath.Join(tmp, "node-"+name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	env := map[string]string{
		"XDG_DATA_HOME": filepath.Join(tmp, "node-"+name), "XDG_CONFIG_HOME": filepath.Join(tmp, "node-"+name),
		"SCOPEGATE_PORT": strconv.Itoa(port), "SCOPEGATE_DEMO_PORT": strconv.Itoa(demo),
		"SCOPEGATE_CADDY_ADMIN": "127.0.0.1:" + strconv.Itoa(admin),
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extraEnv...) // later values win
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(done) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	n := &loadNode{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), admin: "http://127.0.0.1:" + strconv.Itoa(admin),
		log: logPath, env: env, pid: cmd.Process.Pid}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			return nil, nil, fmt.Errorf("node %s exited at start; its log: %s", name, logPath)
		default:
		}
		if resp, err := http.Get(n.url + "/.well-known/jwks.json"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("node %s did not answer within a minute", name)
		}
	}
}

// staticUpstreamServer serves a fixed small JSON body on 127.0.0.1.
func staticUpstreamServer() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})}
	go srv.Serve(l)
	return l.Addr().String(), func() { srv.Close() }, nil
}

// printCacheEntries prints how many tokens each node caches, from its
// metrics.
func printCacheEntries(nodes []*loadNode) error {
	var parts []string
	for _, n := range nodes {
		v, err := metric(n, `caddy_scopegate_cache_entries{cache="tokens"}`)
		if err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("%s %s", n.name, v))
	}
	fmt.Printf("cached tokens: %s\n", strings.Join(parts, ", "))
	return nil
}

// metric reads one series from a node's /metrics.
func metric(n *loadNode, series string) (string, error) {
	resp, err := http.Get(n.admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("node %s's /metrics has no %s", n.name, series)
}

// commitWatch LISTENs for the change feed's notifications, as every node
// does, and notes when each arrives: when a change committed, as the nodes
// learn it.
type commitWatch struct {
	conn   *pgx.Conn
	cancel context.CancelFunc
	done   chan struct{}
	at     chan time.Time
}

func watchCommits(ctx context.Context) (*commitWatch, error) {
	conn, err := pgx.Connect(ctx, os.Getenv("SCOPEGATE_DSN"))
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{store.NotifyChannel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &commitWatch{conn: conn, cancel: cancel, done: make(chan struct{}), at: make(chan time.Time, 1024)}
	go func() {
		defer close(w.done)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return
			}
			select {
			case w.at <- time.Now():
			default:
			}
		}
	}()
	return w, nil
}

// drain forgets the notifications that arrived so far.
func (w *commitWatch) drain() {
	for {
		select {
		case <-w.at:
		default:
			return
		}
	}
}

// next is when the first notification since drain arrived.
func (w *commitWatch) next() (time.Time, error) {
	select {
	case at := <-w.at:
		return at, nil
	case <-time.After(refusalBound):
		return time.Time{}, fmt.Errorf("no change notification within %v", refusalBound)
	}
}

func (w *commitWatch) close() {
	w.cancel()
	<-w.done
	w.conn.Close(context.Background())
}
