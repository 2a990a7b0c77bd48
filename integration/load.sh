#!/usr/bin/env bash
# Load test: every figure of the gateway's speed in one run, all traffic on
# 127.0.0.1, each phase bounded in time:
#  1. plain reverse_proxy vs the guarded route with a token it has seen
#     (cached), the same request on both, in alternating rounds: req/s, CPU
#     per request and their ratio;
#  2. the same with a token the gateway has never seen on every guarded
#     request (150k freshly minted tokens, each presented once);
#  3. token issuance (client_credentials, HTTP Basic, SQLite): tokens/s and
#     latency mean/p50/p99/max, next to two floors at the same concurrency
#     (the liveness probe and the unguarded /public/ route);
#  4. propagation: three caddy processes of caddyfiles/postgres.Caddyfile on
#     a PostgreSQL database of their own (created and dropped; -postgres or
#     $SCOPEGATE_TEST_POSTGRES_DSN names the server, default the local test
#     server), 100k tokens cached on each, then 50 clients disabled and 50
#     tokens revoked on node A, one after the other, each timed until nodes B
#     and C refuse its token (median, p99, max). -propagation=false skips it.
#   integration/load.sh [-duration 20s] [-conns 64] [-uncached 10s] [-issue 5s]
#       [-propagation-tokens 100000] [-propagation-changes 50]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./integration/load "$@"
