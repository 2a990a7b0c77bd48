#!/usr/bin/env bash
# Load test: plain reverse_proxy vs the guarded route (cached token) side by
# side in one run, printing the throughput ratio, then token issuance.
# Everything runs on 127.0.0.1; each phase stops by itself.
#   integration/load.sh [-duration 20s] [-conns 64] [-issue 5s]
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./integration/load "$@"
