// Command load measures the gateway's speed as its users see it: it builds
// caddy (integration/caddybin) once and runs the quickstart Caddyfile in a
// process of its own, as shipped, then drives the unguarded /public/ route
// and the guarded /api/ route (with a cached token) side by side, in
// alternating rounds so both see the same machine, with the same request
// (bearer token included) on both, and prints the throughput of each, the
// gateway's CPU time per request and their ratios; then the same with a
// never-seen token on every guarded request (uncached.go). Behind both
// stands a fixed-answer Go server (-static-upstream=false: the quickstart's
// own demo site). It also measures token issuance over HTTP, with each
// request's latency (mean, p50, p99, max) next to the same figures of two
// floors (issuance.go). All traffic stays on 127.0.0.1, and every loop is
// bounded by -duration or -issue. The client shares the machine's cores with
// the gateway, as wrk on the same host would. It ends with the propagation
// phase on three nodes (propagation.go).
//
//	go run ./integration/load -duration 20s -conns 64 [-cpuprofile cpu.prof]
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate"
	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
)

func main() {
	duration := flag.Duration("duration", 20*time.Second, "total time for the proxy comparison (split into rounds)")
	rounds := flag.Int("rounds", 8, "alternating rounds per route")
	conns := flag.Int("conns", 64, "concurrent connections")
	issueFor := flag.Duration("issue", 5*time.Second, "time spent measuring token issuance")
	uncachedFor := flag.Duration("uncached", 10*time.Second, "total time for the never-seen-token comparison (0: skip)")
	uncachedTokens := flag.Int("uncached-tokens", 150_000, "tokens minted for the never-seen-token comparison, each presented once")
	caddyfile := flag.String("caddyfile", "caddyfiles/quickstart.Caddyfile", "config to run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the gateway process during the cached comparison to this file")
	static := flag.Bool("static-upstream", true, "put a fixed-answer Go server behind both routes instead of the quickstart's demo site")
	flag.Parse()
	if err := run(*duration, *rounds, *conns, *issueFor, *caddyfile, *cpuProfile, *static, *uncachedFor, *uncachedTokens); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if *propagation { // propagation.go
		if err := runPropagation(*conns); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
	}
}

// buildCaddy builds the gateway binary into dir, once per run.
func buildCaddy(dir string) (string, error) {
	bin := filepath.Join(dir, "caddy")
	if out, err := exec.Command("go", "build", "-o", bin, "./integration/caddybin").CombinedOutput(); err != nil {
		return "", fmt.Errorf("building caddy (run from the repository's root): %v\n%s", err, out)
	}
	return bin, nil
}

func run(duration time.Duration, rounds, conns int, issueFor time.Duration, caddyfile, cpuProfile string, staticUpstream bool, uncachedFor time.Duration, uncachedTokens int) error {
	tmp, err := os.MkdirTemp("", "scopegate-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := buildCaddy(tmp)
	if err != nil {
		return err
	}
	// Behind both routes: a plain Go server answering a fixed small JSON
	// body, so the run measures the gateway rather than the demo site's
	// template; or the quickstart's own demo site on a port of the run's.
	demo := strconv.Itoa(freePort())
	upstreamEnv := []string{"SCOPEGATE_DEMO_PORT=" + demo, "SCOPEGATE_UPSTREAM=127.0.0.1:" + demo}
	if staticUpstream {
		addr, stop, err := staticUpstreamServer()
		if err != nil {
			return err
		}
		defer stop()
		upstreamEnv = []string{"SCOPEGATE_UPSTREAM=" + addr}
	}
	path, _ := filepath.Abs(caddyfile)
	path, hasFloor, err := withIdentityFloor(path, tmp) // floor.go
	if err != nil {
		return err
	}
	gw, stopGateway, err := startNode(bin, path, tmp, "gateway", upstreamEnv...)
	if err != nil {
		return err
	}
	defer stopGateway()
	gatewayPID = gw.pid
	// The client is made in the gateway's database as an operator's shell
	// would, so this process looks where the gateway keeps it.
	for k, v := range gw.env {
		os.Setenv(k, v)
	}
	// Opening the database here logs a line per client made: keep the
	// report to the figures.
	if err := caddy.Load([]byte(`{"admin":{"disabled":true},"logging":{"logs":{"default":{"level":"ERROR"}}}}`), true); err != nil {
		return err
	}
	defer caddy.Stop()
	id, secret, err := makeClient(path)
	if err != nil {
		return err
	}
	base := gw.url
	client := loopbackClient(conns)
	tok, err := getToken(client, base, id, secret)
	if err != nil {
		return err
	}

	routes := 2
	if hasFloor {
		routes = 3
	}
	fmt.Printf("scopegate load: %d connections, %d rounds of %s per route, %s (GOMAXPROCS %s)\n",
		conns, rounds, duration/time.Duration(routes*rounds), caddyfile, gw.procs())
	plain, guarded, floor := &result{}, &result{}, &result{}
	// Both routes get the very same request, bearer token included: a
	// client sends its token whatever stands in front of the API, so the
	// difference is what the guard itself costs.
	hit(client, base+"/public/warm", tok, conns, time.Second, &result{})
	hit(client, base+"/api/warm", tok, conns, time.Second, &result{})
	if hasFloor {
		hit(client, base+"/floor/warm", tok, conns, time.Second, &result{})
	}
	profiled := profileDuring(gw, cpuProfile, duration)
	slice := duration / time.Duration(routes*rounds)
	for i := 0; i < rounds; i++ {
		hit(client, base+"/public/hello", tok, conns, slice, plain)
		hit(client, base+"/api/hello", tok, conns, slice, guarded)
		if hasFloor {
			hit(client, base+"/floor/hello", tok, conns, slice, floor)
		}
	}
	if err := profiled(); err != nil {
		return err
	}
	if plain.errors+guarded.errors+floor.errors > 0 {
		fmt.Printf("errors: plain %d, guarded %d, floor %d\n", plain.errors, guarded.errors, floor.errors)
	}
	pr, gr := plain.rps(), guarded.rps()
	fmt.Printf("plain reverse_proxy   /public/: %8.0f req/s (%d requests)  gateway cpu %v/req\n", pr, plain.count, plain.cpuPer())
	fmt.Printf("guarded (cached token) /api/:   %8.0f req/s (%d requests)  gateway cpu %v/req\n", gr, guarded.count, guarded.cpuPer())
	fmt.Printf("ratio guarded/plain: %.3f (cpu per request: %.3f)\n", gr/pr, float64(plain.cpuPer())/float64(guarded.cpuPer()))
	if hasFloor {
		fr := floor.rps()
		fmt.Printf("identity floor /floor/:       %8.0f req/s (%d requests)  gateway cpu %v/req\n", fr, floor.count, floor.cpuPer())
		fmt.Printf("  (plain reverse_proxy forwarding the guard's identity headers, no token check)\n")
		fmt.Printf("  floor/plain: %.3f (cpu %.3f)   guarded/floor: %.3f (cpu %.3f)\n",
			fr/pr, float64(plain.cpuPer())/float64(floor.cpuPer()), gr/fr, float64(floor.cpuPer())/float64(guarded.cpuPer()))
	}

	if uncachedFor > 0 {
		if err := uncachedPhase(client, base, id, secret, conns, rounds, uncachedTokens, uncachedFor); err != nil {
			return err
		}
	}

	if issueFor > 0 {
		issuancePhase(client, base, id, secret, tok, conns, rounds, issueFor)
	}
	return nil
}

// loopbackClient is the load's HTTP client: keep-alive connections enough
// for conns workers, dialled to 127.0.0.1 whatever a URL names (no DNS).
func loopbackClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
		},
	}}
}

type result struct {
	count, errors int64
	elapsed       time.Duration
	mu            sync.Mutex
	lat           *latencies // nil: not recorded
	cpu           time.Duration
}

func (r *result) rps() float64 { return float64(r.count) / r.elapsed.Seconds() }

// cpuPer is the gateway's CPU time per request.
func (r *result) cpuPer() time.Duration { return r.cpu / time.Duration(max(r.count, 1)) }

// hit sends GETs from conns workers for d and adds to r.
func hit(client *http.Client, url, tok string, conns int, d time.Duration, r *result) {
	drive(conns, d, r, func() (bool, bool) { return get(client, url, tok), false })
}

func getToken(client *http.Client, base, id, secret string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("token request failed: %d", resp.StatusCode)
	}
	return out.AccessToken, nil
}

// makeClient creates a demo.read client in the gateway's database, as an
// operator's shell would, and returns its credentials.
func makeClient(cfgPath string) (string, string, error) {
	a, err := app.AppFromConfigFile(cfgPath, "")
	if err != nil {
		return "", "", err
	}
	if err := a.OpenStandalone(); err != nil {
		return "", "", err
	}
	defer a.CloseStandalone()
	id := app.NewClientID()
	secret, digest, ct, err := a.NewSecret(id)
	if err != nil {
		return "", "", err
	}
	c := &store.Client{ID: id, TenantID: store.DefaultTenantID, Name: "load", AuthMethod: store.AuthAPIKey,
		AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
		OwnerID: id, SecretDigest: digest, SecretCiphertext: ct}
	return id, secret, a.Store().CreateClient(context.Background(), c, store.Actor{Principal: "load"})
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
