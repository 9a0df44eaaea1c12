#!/usr/bin/env bash
# Builds the benchmark program for linux-arm64 (self-contained) and runs its --smoke mode under qemu-aarch64-static:
# every MatVec side of a few formats on a 256 x 4096 matrix (ours, ggml's vec_dot, ggml's mul_mat graph, the read
# kernels, one and two threads), every setup cross-check, a few timed rounds each, the results table built. It checks
# the harness on NEON with the arm64 ggml, not speed (emulated timings mean nothing). About 1 minute under qemu after a
# 1-2 minute publish.
#
# Needs qemu-user-static and the arm64 sysroot (eng/ci-install.sh; QUANT_ARM64_SYSROOT, default artifacts/arm64-sysroot).
# Last line: "bench-arm64 smoke passed" or "bench-arm64 smoke FAILED (...)"; exit status 0 only when it passed.
# On arm64 hardware, run the benchmarks directly instead (no qemu):
#   dotnet run -c Release --project benchmarks/Quantization.Benchmarks -- --paired
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SYSROOT="${QUANT_ARM64_SYSROOT:-$ROOT/artifacts/arm64-sysroot}"
OUT="$ROOT/artifacts/arm64-bench"
LOG_DIR="$ROOT/artifacts/test-results"
TIMEOUT=600

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
unset DOTNET_EnableAVX512 DOTNET_EnableAVX2 DOTNET_EnableHWIntrinsic DOTNET_PreferredVectorBitWidth DOTNET_EnableArm64Dp

log() { printf '[bench-arm64] %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { log "$*"; echo "bench-arm64 smoke FAILED ($*)"; exit 1; }

mkdir -p "$LOG_DIR"
if [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || ! command -v qemu-aarch64-static >/dev/null; then
    fail "needs qemu-aarch64-static and the sysroot $SYSROOT (eng/ci-install.sh)"
fi

t0=$(now)
log "publish: dotnet publish benchmarks/Quantization.Benchmarks -c Release -r linux-arm64 --self-contained -o artifacts/arm64-bench"
rm -rf "$OUT"
if ! dotnet publish benchmarks/Quantization.Benchmarks -c Release -r linux-arm64 --self-contained -o "$OUT" -nologo -clp:ErrorsOnly \
    </dev/null >"$LOG_DIR/bench-arm64-publish.log" 2>&1; then
    tail -n 40 "$LOG_DIR/bench-arm64-publish.log"
    fail "publish failed after $(elapsed "$t0")s"
fi
log "publish done ($(elapsed "$t0")s)"

t0=$(now)
logf="$LOG_DIR/bench-arm64-smoke.log"
log "run: qemu-aarch64-static artifacts/arm64-bench/Quantization.Benchmarks --smoke (log: $logf)"
# DOTNET_EnableWriteXorExecute=0: qemu-user does not see code written through W^X's second mapping (eng/test-matrix.sh).
env QEMU_LD_PREFIX="$SYSROOT" DOTNET_EnableWriteXorExecute=0 \
    timeout -k 30 "$TIMEOUT" qemu-aarch64-static "$OUT/Quantization.Benchmarks" --smoke </dev/null >"$logf" 2>&1
rc=$?
secs=$(elapsed "$t0")
summary=$(grep -E '^// smoke: [0-9]+ comparisons ran and checked \(Arm64, ggml arm64\)' "$logf" | tail -n 1)
if [ "$rc" -ne 0 ] || [ -z "$summary" ]; then
    tail -n 30 "$logf"
    fail "exit code $rc after ${secs}s; full output in $logf"
fi
log "${summary#// } in ${secs}s"
echo "bench-arm64 smoke passed"
