package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
)

// problem is an RFC 9457 problem detail. It doubles as the error a route
// returns, so a route says what went wrong once and fail writes it.
type problem struct {
	// Always about:blank: the status says what kind of problem it is, and
	// RFC 9457 §4.2.1 then wants the title to be the status phrase.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Errors names every field that failed validation (400 only).
	Errors []fieldError `json:"errors,omitempty"`
	// allow is the Allow header of a 405.
	allow string
	// retryAfter is the Retry-After header of a 503.
	retryAfter string
}

// fieldError is one invalid field: a JSON member or a query parameter.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p *problem) Error() string { return p.Title + ": " + p.Detail }

// newProblem returns a problem with a formatted detail.
func newProblem(status int, format string, args ...any) *problem {
	return &problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}

// notFound is also the answer about things of another tenant, so a tenant
// admin learns nothing about what exists elsewhere.
func notFound(what string) *problem {
	return newProblem(http.StatusNotFound, "no such %s", what)
}

// forbidden refuses an action the caller's admin scope does not cover.
func forbidden(format string, args ...any) *problem {
	return newProblem(http.StatusForbidden, format, args...)
}

// fieldErrors collects every invalid field of a request before answering,
// so one round trip tells the caller everything it must fix.
type fieldErrors []fieldError

// add records what is wrong with field. A field lists at most
// maxErrorsPerField messages, then one saying there are more, and each
// message is cut at maxErrorMessage bytes: a body of 6,000 unknown grant
// types must not get an answer many times its size.
func (f *fieldErrors) add(field, format string, args ...any) {
	n := 0
	for _, e := range *f {
		if e.Field == field {
			n++
		}
	}
	switch {
	case n > maxErrorsPerField:
		return
	case n == maxErrorsPerField:
		*f = append(*f, fieldError{Field: field, Message: fmt.Sprintf("more values are invalid (only the first %d are listed)", maxErrorsPerField)})
		return
	}
	msg := fmt.Sprintf(format, args...)
	if len(msg) > maxErrorMessage {
		msg = strings.ToValidUTF8(msg[:maxErrorMessage], "") + "…"
	}
	*f = append(*f, fieldError{Field: field, Message: msg})
}

// Bounds of fieldErrors.add.
const (
	maxErrorsPerField = 5
	maxErrorMessage   = 300
)

// has reports whether field already failed (later checks that build on it
// are then skipped).
func (f fieldErrors) has(field string) bool {
	for _, e := range f {
		if e.Field == field {
			return true
		}
	}
	return false
}

// err returns nil when nothing failed, else the 400 problem naming every field.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	p := newProblem(http.StatusBadRequest, "the request has invalid fields")
	p.Errors = f
	return p
}

// writeProblem answers with p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.allow != "" {
		h.Set("Allow", p.allow)
	}
	if p.retryAfter != "" {
		h.Set("Retry-After", p.retryAfter)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// fail answers a route's error: its problem, the store's sentinel errors as
// 404 and 409, and anything else as a 500 (or a 503 while the database is
// unavailable) that tells nothing (the cause is logged, and no error here
// ever carries a secret or a token).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p == nil {
		h.internal(w, r, err)
		return
	}
	writeProblem(w, p)
}

// problemFor is the problem a route's error answers with; nil when the
// error is an internal failure.
func problemFor(err error) *problem {
	var p *problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, store.ErrNotFound):
		return notFound("resource")
	case errors.Is(err, store.ErrConflict):
		return newProblem(http.StatusConflict, "it conflicts with an existing resource")
	case errors.Is(err, store.ErrReferenced):
		return newProblem(http.StatusConflict, "it is still referenced by other resources")
	case errors.Is(err, store.ErrDisabledBySuper):
		return forbidden("%s", store.ErrDisabledBySuper.Error())
	}
	return nil
}

// internal answers 500 without details and logs why; when the database is
// unavailable (store.Unavailable decides, for every endpoint alike) it
// answers 503 with Retry-After instead, since the request may succeed soon.
// When the request failed because the caller hung up (which cancels its
// queries), nothing failed here and nobody reads the answer: 499, as the
// guard and Caddy's reverse_proxy record it, logged at debug level (a
// client hanging up on purpose must not fill the error log).
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled) {
		h.logger.Debug("admin request: the client closed the request",
			zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		p := newProblem(statusClientClosedRequest, "the client closed the request")
		p.Title = "Client Closed Request"
		writeProblem(w, p)
		return
	}
	app.LogFailure(h.logger, zap.ErrorLevel, "admin request failed", err,
		zap.String("method", r.Method), zap.String("path", r.URL.Path))
	writeProblem(w, internalProblem(err))
}

// statusClientClosedRequest is what Caddy's reverse_proxy, like nginx,
// records for a request whose caller went away before the answer.
const statusClientClosedRequest = 499

// internalProblem is the problem answered for an internal error.
func internalProblem(err error) *problem {
	if store.Unavailable(err) {
		p := newProblem(http.StatusServiceUnavailable, "the database is unavailable; try again shortly")
		p.retryAfter = store.RetryAfter
		return p
	}
	return newProblem(http.StatusInternalServerError, "the server could not complete the request")
}
