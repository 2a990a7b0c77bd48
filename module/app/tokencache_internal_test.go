package app

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// cachedRuntime is a runtime whose token cache holds clients × perClient
// 2-legged tokens (client "c<i>") and, for each of users users, one
// 3-legged token with each of the first clients (subject "u<j>").
func cachedRuntime(tb testing.TB, clients, perClient, users int) (*Runtime, map[tokenKey]*token.Claims) {
	tb.Helper()
	rt := &Runtime{
		tokens:  newTokenCache(clients*perClient + users*clients),
		clients: newRowCache[store.Client](rowCacheSize, missCacheSize),
		users:   newRowCache[store.User](rowCacheSize, missCacheSize),
	}
	all := map[tokenKey]*token.Claims{}
	put := func(client, subject string, n int) {
		c := &token.Claims{ClientID: client}
		c.Subject = subject
		k := tokenKeyOf(fmt.Sprintf("%s/%s/%d", client, subject, n))
		rt.tokens.add(k, c)
		all[k] = c
	}
	for i := range clients {
		id := fmt.Sprintf("c%d", i)
		for n := range perClient {
			put(id, id, n)
		}
	}
	for j := range users {
		for i := range clients {
			put(fmt.Sprintf("c%d", i), fmt.Sprintf("u%d", j), 0)
		}
	}
	return rt, all
}

// Forgetting a client drops exactly its tokens, 2- and 3-legged, and keeps
// every other; forgetting a user drops exactly the tokens acting as that
// user, whatever their client.
func TestForgetDropsExactlyItsTokens(t *testing.T) {
	rt, all := cachedRuntime(t, 50, 20, 5)
	rt.ForgetClient("c7")
	rt.ForgetUser("u3")
	for k, c := range all {
		want := c.ClientID != "c7" && c.Subject != "u3"
		if got := rt.tokens.contains(k); got != want {
			t.Fatalf("token of client %s, subject %s: cached %v, want %v", c.ClientID, c.Subject, got, want)
		}
	}
	if want := 50*20 + 5*50 - (20 + 5) - (50 - 1); rt.tokens.len() != want {
		t.Fatalf("%d tokens left, want %d", rt.tokens.len(), want)
	}
	rt.ForgetClient("nobody") // no tokens: nothing happens
	rt.ForgetUser("nobody")
}

// The indexes follow the LRU: entries pushed out by newer ones, removed one
// by one or replaced leave them, so they never outgrow the cache and a later
// forget finds only what is cached.
func TestTokenCacheIndexesFollowEvictions(t *testing.T) {
	c := newTokenCache(10)
	for i := range 25 {
		claims := &token.Claims{ClientID: fmt.Sprintf("c%d", i%3)}
		claims.Subject = fmt.Sprintf("u%d", i%4)
		c.add(tokenKeyOf(fmt.Sprint(i)), claims)
	}
	c.remove(tokenKeyOf("24"))
	moved := &token.Claims{ClientID: "c9"} // the same key cached again with other claims
	moved.Subject = "u9"
	c.add(tokenKeyOf("23"), moved)
	count := func(m map[string]map[tokenKey]struct{}) (n int) {
		for _, set := range m {
			n += len(set)
		}
		return n
	}
	if c.len() != 9 || count(c.byClient) != 9 || count(c.bySubject) != 9 {
		t.Fatalf("cache holds %d, indexes %d by client and %d by subject; want 9 each",
			c.len(), count(c.byClient), count(c.bySubject))
	}
	for k := range c.byClient["c2"] {
		if !c.contains(k) {
			t.Fatal("the client index names an entry the cache no longer holds")
		}
	}
	c.forgetClient("c9")
	if c.contains(tokenKeyOf("23")) || len(c.byClient["c2"])+len(c.byClient["c0"])+len(c.byClient["c1"]) != 8 {
		t.Fatal("forgetting the replaced entry's new client missed it or touched others")
	}
}

// Forgetting one client among 100,000 cached tokens costs what it removes:
// it used to copy every key of the cache (3.2 MB) and walk them all, so 50
// changes in a row took seconds to reach a node. Measured in bytes
// allocated, which, unlike time, a busy machine does not change.
func TestForgetClientDoesNotWalkTheCache(t *testing.T) {
	rt, _ := cachedRuntime(t, 1000, 100, 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rt.ForgetClient("c7")
	runtime.ReadMemStats(&after)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 256<<10 {
		t.Fatalf("forgetting a client of 100 tokens among 100,000 allocated %d bytes", allocated)
	}
	if rt.tokens.len() != 99_900 {
		t.Fatalf("%d tokens left, want 99900", rt.tokens.len())
	}
}

// BenchmarkForgetClient flushes one client (100 tokens) out of 100,000
// cached tokens; the client's tokens are cached again between iterations,
// off the clock.
func BenchmarkForgetClient(b *testing.B) {
	rt, all := cachedRuntime(b, 1000, 100, 0)
	var mine []tokenKey
	for k, c := range all {
		if c.ClientID == "c7" {
			mine = append(mine, k)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rt.ForgetClient("c7")
		b.StopTimer()
		for _, k := range mine {
			rt.tokens.add(k, all[k])
		}
		b.StartTimer()
	}
}
