package main

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drive runs conns workers for d, each calling one again and again, and
// adds to r the requests that succeeded (with their latency when r records
// it), the failures, and the elapsed and CPU time. one reports whether its
// request succeeded, and stop when every worker should end now (its input
// ran out).
func drive(conns int, d time.Duration, r *result, one func() (ok, stop bool)) {
	var count, errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	start, cpu := time.Now(), gatewayCPU()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { r.lat.add(mine) }()
			for ctx.Err() == nil {
				t0 := time.Now()
				ok, stop := one()
				if stop {
					cancel()
					return
				}
				if !ok {
					errs.Add(1)
					continue
				}
				count.Add(1)
				if r.lat != nil {
					mine = append(mine, time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	r.count += count.Load()
	r.errors += errs.Load()
	r.elapsed += time.Since(start)
	r.cpu += gatewayCPU() - cpu
	r.mu.Unlock()
}

// get sends one GET to url, with tok as its bearer token unless empty, and
// reports whether it was answered 200.
func get(client *http.Client, url, tok string) bool {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// forEach runs job(0) … job(n-1) on conns workers and returns the first
// error; after one, the workers take no new job.
func forEach(conns, n int, job func(i int) error) error {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for failed.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := job(i); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return nil
}
