package guard

import (
	"net/http"
)

// CallerAuthorization is the caller's Authorization header: as the request
// holds it, or, once a guard of the route kept the bearer token (no
// forward_token), the values that guard removed. A handler that checks the
// token itself behind a guard (scopegate_admin) reads it here, so a guard in
// front of it does not leave it without one.
func CallerAuthorization(r *http.Request) []string {
	if v, ok := r.Header["Authorization"]; ok {
		return v
	}
	if id := varsOf(r).identity(); id != nil {
		return id.authorization
	}
	return nil
}
