#!/usr/bin/env bash
# make demo: trace every exec for a few seconds while a few commands run.
set -euo pipefail
cd "$(dirname "$0")/.."
( sleep 1; for i in 1 2 3; do ls / >/dev/null; cat /etc/hostname >/dev/null; sleep 0.5; done ) &
exec bin/gadgetry run trace_exec --timeout 4s
