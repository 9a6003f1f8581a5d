#!/usr/bin/env bash
# Builds the benchmark tool (and, for load, the standalone host) in Release, then runs one benchmark.
# Usage: bench/run.sh <benchmark> [options]     e.g. bench/run.sh load --duration 10 --concurrency 8, bench/run.sh quality
set -euo pipefail

usage() {
    echo "usage: bench/run.sh <benchmark> [options]"
    echo "  load     POST /v1/rank on the standalone host against the bare-rank baseline (see bench/README.md)"
    echo "  events   POST /v1/events on the standalone host with persistence on, against the same host memory-only"
    echo "  gemm     GFLOP/s of the learning engine's GEMM against OpenBLAS (libopenblas0) in the same run"
    echo "  infer    candidates/s and model FLOP utilisation of the ranking networks (forward pass), engine and ONNX Runtime, against the GEMM rate"
    echo "  train    examples/s and model FLOP utilisation of a training step against the GEMM rate"
    echo "  quality  NE, AUC, calibration of every model on the synthetic world (1M impressions: 4 to 10 minutes on 2 cores)"
    echo "  exfm     ExFM's four-way ablation (no FM, KD, AH, AH + SA) on a drifting synthetic stream, FM published with a lag (about a minute per seed on 2 cores)"
    echo "  trainer-throughput  labelled impressions/s the trainer trains on (its loop, defaults, publishes included) [requests] [candidates]"
    echo "  replay   a log replayed through the standalone host in event-time order against three online baselines (no arguments: the synthetic world's realistic mode)"
    echo "  gpu      the ranking networks under ONNX Runtime's CUDA provider against its CPU provider (NVIDIA GPU, CUDA 13)"
    echo "run 'bench/run.sh help' for every option"
}

if [[ $# -eq 0 ]]; then
    usage >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# gpu: ONNX Runtime's CUDA build of the bench, in its own output folder (artifacts/gpu) so that it and the CPU build
# do not overwrite each other. Checked first, so that a machine without a GPU fails in a second and not after a build.
# --provider cpu is a dry run on the CPU provider (no GPU needed).
if [[ "$1" == "gpu" ]]; then
    dry_run=false
    for ((i = 2; i <= $#; i++)); do
        if [[ "${!i}" == "--provider=cpu" || ( "${!i}" == "--provider" && $i -lt $# && "${*:i+1:1}" == "cpu" ) ]]; then
            dry_run=true
        fi
    done
    if [[ "$dry_run" == false ]] && ! { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
        echo "bench/run.sh gpu: no NVIDIA GPU here (nvidia-smi is missing or lists no device); the gpu benchmark needs an NVIDIA GPU with its driver and CUDA 13" >&2
        exit 3
    fi
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    if ! dotnet build -c Release bench/Mesh.Bench -p:OnnxRuntimeGpu=true --artifacts-path artifacts/gpu -nologo -v q >"$log" 2>&1; then
        cat "$log" >&2
        echo "bench/run.sh: building bench/Mesh.Bench with -p:OnnxRuntimeGpu=true failed" >&2
        exit 1
    fi
    # A bound on the run itself, so that a stuck driver cannot hold an unattended machine (the defaults take about a minute).
    timeout --kill-after=10 240 dotnet artifacts/gpu/bin/Mesh.Bench/release/Mesh.Bench.dll "$@"
    exit $?
fi

# trainer-throughput: a file-based app (bench/TrainerThroughput) on the trainer project itself, built and run by dotnet run.
if [[ "$1" == "trainer-throughput" ]]; then
    cd bench/TrainerThroughput
    exec timeout --kill-after=10 600 dotnet run -c Release trainer-throughput.cs -- "${@:2}"
fi

# Quiet on success; the full log on failure. One invocation per project: dotnet build takes one at a time.
# Only load, events and replay need the standalone host.
projects=(bench/Mesh.Bench)
if [[ "$1" == "load" || "$1" == "events" || "$1" == "replay" ]]; then
    projects=(services/standalone bench/Mesh.Bench)
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for project in "${projects[@]}"; do
    if ! dotnet build -c Release "$project" -nologo -v q >"$log" 2>&1; then
        cat "$log" >&2
        echo "bench/run.sh: building $project failed" >&2
        exit 1
    fi
done

# The benchmarks against OpenBLAS (gemm): the library is the baseline, installed here when missing (Debian/Ubuntu:
# libopenblas0), and run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which the machines set and which force
# OpenBLAS onto an older, slower kernel than the one it picks for the CPU. Only this command's environment changes;
# the benchmark prints the kernel that ran. Tests never install it nor touch these variables.
run=()
if [[ "$1" == "gemm" ]]; then
    if ! ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0'; then
        echo "bench/run.sh: libopenblas.so.0 not found; installing libopenblas0 (the gemm benchmark's baseline)" >&2
        sudo=()
        if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null; then
            sudo=(sudo -n)
        fi
        if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0; } >"$log" 2>&1; then
            cat "$log" >&2
            echo "bench/run.sh: installing libopenblas0 failed; the benchmark measures the engine alone" >&2
        fi
    fi
    run=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
fi

"${run[@]}" dotnet bench/Mesh.Bench/bin/Release/net10.0/Mesh.Bench.dll "$@"
