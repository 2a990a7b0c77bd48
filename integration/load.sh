#!/usr/bin/env bash
# Load test: plain reverse_proxy vs the guarded route (cached token) side by
# side in one run, printing the throughput ratio, then token issuance
# (tokens/s and latency mean/p50/p99/max, next to two floors at the same
# concurrency: the liveness probe and the unguarded /public/ route).
# Everything runs on 127.0.0.1; each phase stops by itself.
#   integration/load.sh [-duration 20s] [-conns 64] [-issue 5s]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./integration/load "$@"
