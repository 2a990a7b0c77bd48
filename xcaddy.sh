#!/usr/bin/env bash
# Builds ./caddy: Caddy with the Scopegate plugin from this checkout.
#   ./xcaddy.sh        build ./caddy
#   ./xcaddy.sh run    build, then run the quickstart on http://localhost:8080
#
# xcaddy is pinned as a Go tool in go.mod (go tool xcaddy), so nothing has to be
# installed by hand; if that fails, an xcaddy on PATH is used, else it is
# installed with go install (into GOBIN, or the first GOPATH's bin). The local
# module gets a placeholder version because the module proxy cannot list an
# unpublished module.
set -euo pipefail
cd "$(dirname "$0")"

CADDY_VERSION="${CADDY_VERSION:-v2.11.9}"
MODULE="$(go list -m)"
export CGO_ENABLED="${CGO_ENABLED:-0}"

xcaddy() {
	if go tool -n xcaddy >/dev/null 2>&1; then
		go tool xcaddy "$@"
	elif command -v xcaddy >/dev/null 2>&1; then
		command xcaddy "$@"
	else
		go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5
		local bin
		bin="$(go env GOBIN)"
		[[ -n "$bin" ]] || bin="$(go env GOPATH | cut -d: -f1)/bin" # GOPATH may be a list
		"$bin/xcaddy" "$@"
	fi
}

echo "building ./caddy (Caddy ${CADDY_VERSION} + ${MODULE}); a cold build takes several minutes" >&2
xcaddy build "${CADDY_VERSION}" --output ./caddy --with "${MODULE}@v0.0.0=."
./caddy list-modules | grep -i scopegate >&2

if [[ "${1:-}" == "run" ]]; then
	exec ./caddy run --config caddyfiles/quickstart.Caddyfile
fi
