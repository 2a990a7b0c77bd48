package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/scopegate/scopegate/module/store"
)

// secretView answers GET /clients/{id}/secret.
type secretView struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Masked       bool   `json:"masked,omitempty"`
}

// rotateBody is the optional body of POST /clients/{id}/rotate.
type rotateBody struct {
	// How long the old secret keeps working; 0 ends it at once. Default:
	// the app's secret_grace.
	GraceSeconds *int64 `json:"grace_seconds"`
}

// rotateView answers POST /clients/{id}/rotate.
type rotateView struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// null when the old secret stopped working at once.
	PreviousSecretValidUntil *time.Time `json:"previous_secret_valid_until"`
}

// clientSecret shows the secret to the principal that created the client
// and a mask to everybody else; every reveal is audited first, so no
// secret leaves without a trace. A client holding scopegate.admin is
// refused outright to tenant admins, its creator included (manageableClient).
func (h *Handler) clientSecret(w http.ResponseWriter, r *http.Request, c *caller) error {
	// The GET route answers HEAD too: it would decrypt the secret and audit
	// a reveal that showed nothing, a false trail for whoever reads the log.
	if r.Method == http.MethodHead {
		p := newProblem(http.StatusMethodNotAllowed, "HEAD would record a reveal of the secret without showing it; use GET")
		p.allow = http.MethodGet
		return p
	}
	cl, err := h.manageableClient(r, c)
	if err != nil {
		return err
	}
	if cl.Public {
		return noSecret()
	}
	if len(cl.SecretCiphertext) == 0 {
		return newProblem(http.StatusConflict, "this client has no secret (it was public): rotate it to give it one")
	}
	if c.principal != cl.OwnerID || c.delegated {
		writeJSON(w, http.StatusOK, secretView{ClientID: cl.ID, ClientSecret: masked, Masked: true})
		return nil
	}
	plain, err := h.app.RevealSecret(cl)
	if err != nil {
		return err
	}
	if err := h.app.Store().Audit(r.Context(), c.actor(cl.TenantID), "client.secret.reveal", cl.ID, ""); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, secretView{ClientID: cl.ID, ClientSecret: plain})
	return nil
}

// rotateClient gives the client a new secret; the old one keeps working for
// the grace period so deployed callers can switch without an outage.
func (h *Handler) rotateClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := refuseDelegated(c); err != nil {
		return err
	}
	cl, err := h.manageableClient(r, c)
	if err != nil {
		return err
	}
	if cl.Public {
		return noSecret()
	}
	if !mayRotate(c, cl.OwnerID) {
		return forbidden("only the admin who created this client or a super admin may rotate its secret: the new secret is shown to whoever rotates it")
	}
	actor, err := clientAction(r, c, cl)
	if err != nil {
		return err
	}
	var b rotateBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	grace := time.Duration(h.app.SecretGrace)
	if b.GraceSeconds != nil {
		if *b.GraceSeconds < 0 || *b.GraceSeconds > maxGraceSeconds {
			var f fieldErrors
			f.add("grace_seconds", "must be from 0 to %d", maxGraceSeconds)
			return f.err()
		}
		grace = time.Duration(*b.GraceSeconds) * time.Second
	}
	var until *time.Time
	if grace > 0 {
		t := time.Now().Add(grace).UTC()
		until = &t
	}
	plain, digest, ciphertext, err := h.app.NewSecret(cl.ID)
	if err != nil {
		return err
	}
	err = h.app.Store().RotateSecret(r.Context(), cl.ID, digest, ciphertext, until, actor)
	if errors.Is(err, store.ErrPublicClient) {
		return noSecret()
	}
	if err != nil {
		return stale(err)
	}
	writeJSON(w, http.StatusOK, rotateView{ClientID: cl.ID, ClientSecret: plain, PreviousSecretValidUntil: until})
	return nil
}

// mayRotate reports whether c may rotate the secret of a client created by
// ownerID (the console asks too, to offer it). Rotating answers with
// a working secret, so it is as good as reading it: the creator, who can read
// the secret anyway, and a super admin, who answers for every tenant, may;
// another tenant admin would get credentials it could never read, so it may
// not (it can still disable the client).
func mayRotate(c *caller, ownerID string) bool { return c.super || c.principal == ownerID }

// noSecret answers a secret's reveal or rotation for a public client: it
// authenticates with its client_id alone (RFC 6749 §2.1), and the token
// endpoint refuses a secret from it.
func noSecret() error {
	return newProblem(http.StatusConflict, "a public client has no secret: it names itself with client_id alone (and PKCE); make it confidential (\"public\": false) first to give it one by rotation")
}
