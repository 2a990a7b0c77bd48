package admin

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// openAPIDoc is the OpenAPI 3.1 description of the admin API, written by
// hand; openapi_test.go holds it against the routes setup registers and
// against real answers.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPIPath is the document's path, the one path served without a token.
const openAPIPath = "/openapi.json"

// openAPIHead is how the document begins; the servers member goes right
// after it.
const openAPIHead = "{\n  \"openapi\": \"3.1.0\",\n"

// isOpenAPI reports whether r asks for the OpenAPI document. ServeHTTP
// serves it before authenticating: it describes the API and holds no
// secret, and API gateways and client generators fetch it without
// credentials. Only this exact path, and only to read.
func isOpenAPI(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == openAPIPath
}

// openAPI is the document's route; ServeHTTP answers it before
// authenticating, so the mux only refuses other methods there.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request, _ *caller) error {
	serveOpenAPI(w, r)
	return nil
}

// serveOpenAPI answers with the document, its server being where the admin
// handler is mounted (from the cleaned paths, as the console's links).
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc := openAPIFor(mountBase(r))
	sum := sha256.Sum256(doc)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
}

// openAPIFor is the document with base ("" at the root) as its server.
// The operator chooses the mount point, so the file cannot name it; a
// relative server URL is resolved against the document's own URL.
func openAPIFor(base string) []byte {
	if base == "" {
		base = "/"
	}
	rest, ok := bytes.CutPrefix(openAPIDoc, []byte(openAPIHead))
	if !ok { // openapi_test.go sees to it that it is not
		return openAPIDoc
	}
	url, _ := json.Marshal(base)
	out := make([]byte, 0, len(openAPIDoc)+len(url)+32)
	out = append(out, openAPIHead...)
	out = append(out, `  "servers": [{"url": `...)
	out = append(out, url...)
	out = append(out, "}],\n"...)
	return append(out, rest...)
}
