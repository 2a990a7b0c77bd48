package main

import (
	"fmt"
	"net/http"
	"time"
)

// issuancePhase measures token issuance over HTTP (client_credentials with
// HTTP Basic) and prints tokens/s and the requests' latency. It alternates,
// round by round, with two floors at the same concurrency: the liveness
// probe, the cheapest answer Caddy gives (what the shared cores, the HTTP
// stack and the in-process client cost alone), and the unguarded /public/
// route (a proxied request). Issuance's tail is judged against theirs: on
// two shared cores the scheduler and the other programs make a good part of
// any p99.
func issuancePhase(client *http.Client, base, id, secret, tok string, conns, rounds int, d time.Duration) {
	issued := &result{lat: &latencies{}}
	live, public := &result{lat: &latencies{}}, &result{lat: &latencies{}}
	slice := d / time.Duration(rounds)
	for i := 0; i < rounds; i++ {
		issue(client, base, id, secret, conns, slice, issued)
		hit(client, base+"/healthz/live", "", conns, slice/2, live)
		hit(client, base+"/public/hello", tok, conns, slice/2, public)
	}
	if issued.errors+live.errors+public.errors > 0 {
		fmt.Printf("errors: issuance %d, floors %d and %d\n", issued.errors, live.errors, public.errors)
	}
	fmt.Printf("token issuance (HTTP, SQLite): %8.0f tokens/s  %s  cpu %s/token\n", issued.rps(), issued.lat.summary(), issued.cpuPer())
	fmt.Printf("floor /healthz/live:           %8.0f req/s     %s  cpu %s/req\n", live.rps(), live.lat.summary(), live.cpuPer())
	fmt.Printf("floor /public/ (proxied):      %8.0f req/s     %s  cpu %s/req\n", public.rps(), public.lat.summary(), public.cpuPer())
}

// issue requests tokens from conns workers for d and adds to r.
func issue(client *http.Client, base, id, secret string, conns int, d time.Duration, r *result) {
	drive(conns, d, r, func() (bool, bool) {
		_, err := getToken(client, base, id, secret)
		return err == nil, false
	})
}
