package web

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrSignInGone means the caller hung up before its password was checked;
// the attempt was given back (no guess was checked).
var ErrSignInGone = errors.New("the caller went away before its password was checked")

// ErrSignInsAtOnce means the caller's address already had
// MaxChecksPerAddress sign-ins waiting for their check or being checked;
// the attempt was given back.
var ErrSignInsAtOnce = errors.New("too many sign-ins from this address at once")

// ErrSignInBusy means the sign-in waited PasswordWaitLimit for its turn
// (passwordWork) without getting one; the attempt was given back.
var ErrSignInBusy = errors.New("too many sign-ins are being checked")

// MaxChecksPerAddress is how many sign-ins of one address (AddressKey) may
// wait for their password check or be checked at once. The throttle lets an
// address take fifty attempts before it waits; taken at once, their checks
// queued ahead of everyone's (a DoS red team held every sign-in of the node
// 7 s with 80 posts from two addresses, each closed at once). Eight is more
// than one account's five free attempts, so a burst at one account is
// refused by its count, as it always was, and an office behind one address
// rarely meets it.
const MaxChecksPerAddress = 8

// PasswordWaitLimit bounds a sign-in's wait for its turn: callers of many
// addresses can still fill the queue, and then a sign-in is answered "try
// again" instead of waiting without end. Tests shorten it.
var PasswordWaitLimit = 10 * time.Second

// CheckPassword checks the attempt's password against hash (see
// comparePassword) in its turn of passwordWork, unless the caller's address
// already has MaxChecksPerAddress checks waiting or running
// (ErrSignInsAtOnce), the caller goes away before its turn (ErrSignInGone:
// ctx is the request's), or no turn comes within PasswordWaitLimit
// (ErrSignInBusy). Each error gives the attempt back: a guess not checked
// counts against no one, so posts closed at once cost the queue nothing.
func (at SignInAttempt) CheckPassword(ctx context.Context, hash, password string) (bool, error) {
	s := at.s
	s.mu.Lock()
	if s.checking[at.adr] >= MaxChecksPerAddress {
		s.mu.Unlock()
		at.Abandon()
		return false, ErrSignInsAtOnce
	}
	s.checking[at.adr]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.checking[at.adr]--; s.checking[at.adr] == 0 {
			delete(s.checking, at.adr)
		}
		s.mu.Unlock()
	}()
	if ctx.Err() != nil { // a select would take a free turn as readily
		at.Abandon()
		return false, ErrSignInGone
	}
	wait := time.NewTimer(PasswordWaitLimit)
	defer wait.Stop()
	select {
	case passwordWork <- struct{}{}:
	case <-ctx.Done():
		at.Abandon()
		return false, ErrSignInGone
	case <-wait.C:
		at.Abandon()
		return false, ErrSignInBusy
	}
	defer func() { <-passwordWork }()
	return comparePassword(hash, password), nil
}

// StatusClientGone is the status logged for a sign-in whose caller hung up
// (nginx's and Caddy's reverse_proxy's 499); nobody reads the answer.
const StatusClientGone = 499

// NotChecked says how to answer a sign-in whose CheckPassword failed with
// err: the status and the message for the sign-in form (none for
// StatusClientGone). It sets Retry-After on h where trying again helps.
func NotChecked(h http.Header, err error) (int, string) {
	switch {
	case errors.Is(err, ErrSignInGone):
		return StatusClientGone, ""
	case errors.Is(err, ErrSignInsAtOnce):
		h.Set("Retry-After", "1")
		return http.StatusTooManyRequests, "Too many sign-ins from your address at once. Try again in a moment."
	default:
		h.Set("Retry-After", "1")
		return http.StatusServiceUnavailable, "Too many sign-ins are being checked right now. Try again in a moment."
	}
}
