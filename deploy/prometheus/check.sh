#!/usr/bin/env bash
# Proof that /metrics is valid for a real Prometheus, not only for our own parser: starts the standalone host (memory
# only, with its synthetic driver) and Debian's prometheus scraping it with deploy/prometheus/standalone.yml, waits
# for two successful scrapes, then asks Prometheus's HTTP API for the p99 of one histogram of the mesh
# (mesh_router_rank_duration_seconds) and for http_server_request_duration_seconds. Installs prometheus with apt-get
# when it is missing (as root, or with sudo -n). Exit 0 and a closing "prometheus check: passed" line on success.
# Usage: deploy/prometheus/check.sh [--host-dll PATH]   (default: builds services/standalone and runs its output)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
host_dll=""
if [[ "${1:-}" == "--host-dll" ]]; then
    host_dll="$2"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    # Only the processes this script started.
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "prometheus check: $*" >&2
    for log in "$work"/*.log; do
        [[ -f "$log" ]] && { echo "--- $log (last 30 lines)" >&2; tail -30 "$log" >&2; }
    done
    exit 1
}

if ! command -v prometheus >/dev/null; then
    echo "prometheus check: prometheus not found; installing Debian's prometheus" >&2
    sudo=()
    if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null; then
        sudo=(sudo -n)
    fi
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } >"$work/apt.log" 2>&1; then
        fail "installing prometheus with apt-get failed"
    fi
fi

# Free loopback ports, asked of the kernel rather than guessed.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
host_port="$(free_port)"
prom_port="$(free_port)"

if [[ -z "$host_dll" ]]; then
    dotnet build "$root/services/standalone" -nologo -v q >"$work/build.log" 2>&1 || fail "building services/standalone failed"
    host_dll="$root/services/standalone/bin/Debug/net10.0/Mesh.Standalone.dll"
fi

dotnet "$host_dll" --urls "http://127.0.0.1:$host_port" --Standalone:DataDirectory= --Standalone:SummaryInterval=00:00:00 >"$work/host.log" 2>&1 &
pids+=($!)

sed "s/127.0.0.1:5080/127.0.0.1:$host_port/" "$root/deploy/prometheus/standalone.yml" >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)

api="http://127.0.0.1:$prom_port/api/v1/query"
query() { curl -sf --get "$api" --data-urlencode "query=$1"; }
# The first number of a query's vector result, or nothing.
first_value() { python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'; }

# Two scrapes: up has been 1 twice. At most 120 s (the host starts its models first).
scrapes=0
for _ in $(seq 1 120); do
    scrapes="$(query 'sum_over_time(up{job="mesh-standalone"}[5m])' 2>/dev/null | first_value 2>/dev/null || true)"
    if [[ -n "$scrapes" ]] && python3 -c "import sys; sys.exit(0 if float('$scrapes') >= 2 else 1)"; then
        break
    fi
    sleep 1
done
python3 -c "import sys; sys.exit(0 if float('${scrapes:-0}') >= 2 else 1)" || fail "fewer than two successful scrapes of http://127.0.0.1:$host_port/metrics in 120 s"

# One histogram of the mesh through the HTTP API: its buckets must be there and give a p99.
for _ in $(seq 1 60); do
    p99="$(query 'histogram_quantile(0.99, sum by (le) (mesh_router_rank_duration_seconds_bucket))' | first_value)"
    if [[ -n "$p99" && "$p99" != "NaN" ]]; then
        break
    fi
    sleep 1
done
[[ -n "$p99" && "$p99" != "NaN" ]] || fail "no p99 of mesh_router_rank_duration_seconds from Prometheus"
count="$(query 'sum(http_server_request_duration_seconds_count{http_route="/v1/rank"})' | first_value)"
[[ -n "$count" ]] || fail "no http_server_request_duration_seconds_count for /v1/rank from Prometheus"

echo "prometheus check: $scrapes scrapes; p99 of mesh_router_rank_duration_seconds = ${p99} s; /v1/rank requests counted = $count"
echo "prometheus check: passed"
