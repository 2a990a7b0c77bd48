#!/usr/bin/env bash
# Load test: plain reverse_proxy vs the guarded route (cached token) side by
# side in one run, printing the throughput ratio, then token issuance
# (tokens/s and latency mean/p50/p99/max, next to two floors at the same
# concurrency: the liveness probe and the unguarded /public/ route).
# Everything runs on 127.0.0.1; each phase stops by itself.
#   integration/load.sh [-duration 20s] [-conns 64] [-issue 5s]
# -propagation runs only the propagation phase instead (integration/load/
# propagation.go): three caddy processes of caddyfiles/postgres.Caddyfile on
# a PostgreSQL database of their own (created and dropped; -postgres or
# $SCOPEGATE_TEST_POSTGRES_DSN names the server), 100k tokens cached on each,
# then 50 clients disabled and 50 tokens revoked on node A, one after the
# other, each timed until nodes B and C refuse its token (median, p99, max).
#   integration/load.sh -propagation [-propagation-tokens 100000] [-propagation-changes 50]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./integration/load "$@"
