package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// tokenPool hands out each of its tokens once, or round and round when
// cycle is set.
type tokenPool struct {
	tokens []string
	cycle  bool
	next   atomic.Int64
}

// take returns the next token, or "" when all are used.
func (p *tokenPool) take() string {
	i := p.next.Add(1) - 1
	if p.cycle {
		i %= int64(len(p.tokens))
	}
	if i >= int64(len(p.tokens)) {
		return ""
	}
	return p.tokens[i]
}

// mintPool gets n tokens from the token endpoint with conns workers. None
// of them has been presented to the guard, so each is a first sight there.
func mintPool(client *http.Client, base, id, secret string, conns, n int) (*tokenPool, error) {
	pool := &tokenPool{tokens: make([]string, n)}
	err := forEach(conns, n, func(i int) error {
		tok, err := getToken(client, base, id, secret)
		pool.tokens[i] = tok
		return err
	})
	return pool, err
}

// hitEach is hit with a token never presented before on every request; it
// stops early, without counting the rest of the slice, when the pool runs
// out. The plain route gets the same requests (a fresh token each), so the
// comparison differs only by the guard.
func hitEach(client *http.Client, url string, pool *tokenPool, conns int, d time.Duration, r *result) {
	drive(conns, d, r, func() (bool, bool) {
		tok := pool.take()
		if tok == "" {
			return false, true
		}
		return get(client, url, tok), false
	})
}

// uncachedPhase compares the plain route with the guarded one when every
// request carries a token the gateway has never seen (so the guard checks
// its signature and parses it), in alternating rounds. The guarded rounds
// use up the pool of freshly minted tokens; the plain rounds send the same
// tokens round and round (a proxy does not read them: a different token on
// each request costs it nothing more).
func uncachedPhase(client *http.Client, base, id, secret string, conns, rounds, n int, duration time.Duration) error {
	fmt.Printf("minting %d tokens for the uncached comparison...\n", n)
	guardPool, err := mintPool(client, base, id, secret, conns, n)
	if err != nil {
		return err
	}
	plainPool := &tokenPool{tokens: guardPool.tokens, cycle: true}
	plain, guarded := &result{}, &result{}
	slice := duration / time.Duration(2*rounds)
	for range rounds {
		hitEach(client, base+"/public/hello", plainPool, conns, slice, plain)
		hitEach(client, base+"/api/hello", guardPool, conns, slice, guarded)
	}
	if plain.errors+guarded.errors > 0 {
		fmt.Printf("errors: plain %d, guarded %d\n", plain.errors, guarded.errors)
	}
	if guardPool.next.Load() >= int64(n) {
		fmt.Printf("note: the %d guarded tokens ran out before the rounds ended; raise -uncached-tokens\n", n)
	}
	pr, gr := plain.rps(), guarded.rps()
	fmt.Printf("plain reverse_proxy   /public/, fresh token each: %8.0f req/s (%d requests)  cpu %v/req\n", pr, plain.count, plain.cpuPer())
	fmt.Printf("guarded /api/, never-seen token each:            %8.0f req/s (%d requests)  cpu %v/req\n", gr, guarded.count, guarded.cpuPer())
	fmt.Printf("ratio uncached guarded/plain: %.3f (cpu per request: %.3f)\n", gr/pr, float64(plain.cpuPer())/float64(guarded.cpuPer()))
	return nil
}
