package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
)

// inProcess is one admin API route run in-process for the console or the
// command line, as caller c: the same route function, so validation,
// authority and audit are exactly the API's.
type inProcess struct {
	fn     routeFunc
	method string
	query  string
	body   any      // sent as JSON; nil: no body
	path   []string // path values as name, value pairs
	remote string   // the remote address the audit log records ("" for none)
}

// run calls the route and returns its status and body. A route error that
// the API answers with a problem (problemFor) comes back as that problem's
// answer; any other error is returned as is, for the caller to handle.
func (p inProcess) run(ctx context.Context, c *caller) (int, []byte, error) {
	var rd io.Reader = http.NoBody
	if p.body != nil {
		b, err := json.Marshal(p.body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(ctx, p.method, "/?"+p.query, rd)
	if p.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.remote != "" {
		req.RemoteAddr = p.remote
	}
	for i := 0; i+1 < len(p.path); i += 2 {
		req.SetPathValue(p.path[i], p.path[i+1])
	}
	rec := httptest.NewRecorder()
	if err := p.fn(rec, req, c); err != nil {
		prob := problemFor(err)
		if prob == nil {
			return 0, nil, err
		}
		writeProblem(rec, prob)
	}
	return rec.Code, rec.Body.Bytes(), nil
}

// readProblem reads the problem of a failed answer.
func readProblem(status int, body []byte) (*problem, error) {
	p := new(problem)
	if err := json.Unmarshal(body, p); err != nil {
		return nil, fmt.Errorf("reading the problem of a %d answer: %w", status, err)
	}
	return p, nil
}
