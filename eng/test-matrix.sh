#!/usr/bin/env bash
# Runs the test suite once per instruction-set tier (docs/testing.md#isa-matrix):
#   x64-default   the README command, `dotnet test tests/Quantization.Tests -c Release` (AVX-512 where the CPU has it)
#   x64-avx2      DOTNET_EnableAVX512=0
#   x64-sse       DOTNET_EnableAVX2=0
#   x64-scalar    DOTNET_EnableHWIntrinsic=0
#   arm64-neon-dp the linux-arm64 self-contained build under qemu-aarch64-static, default CPU (AdvSimd + Dp)
#   arm64-neon    the same with -cpu cortex-a72 (no dot-product extension)
#   samples-embeddings  the embeddings sample's tests (samples/Quantization.Samples.Embeddings.Tests), default x64 tier only:
#                 they check a whole encoder against ONNX Runtime, not the kernels' tiers, which the runs above cover
# Each run sets QUANT_EXPECTED_TIER, which tests/Quantization.Tests/Platform/IsaTierTests.cs asserts, so a switch that
# silently did nothing fails the run. Every run writes an xunit XML report (artifacts/test-results/<run>.xml); its
# counts are checked against the console summary, and its "errors" (results lost to runner errors) count as failures.
#
# Last line: "N passed, N failed, N skipped" summed over every run; a run that could not start or reported no results
# adds 1 to "failed". Exit status non-zero if any run failed, ran 0 tests, or could not start.
#
# Environment: QUANT_ARM64_SYSROOT (default artifacts/arm64-sysroot, made by eng/ci-install.sh),
#   QUANT_DEFAULT_TIER (tier expected without switches; default from /proc/cpuinfo),
#   QUANT_MATRIX_RUNS (space-separated subset of the run names above),
#   QUANT_MATRIX_SUMMARY_FILE (write the summary line there instead of printing it; .ci/run prints it last).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROJECT=tests/Quantization.Tests
SYSROOT="${QUANT_ARM64_SYSROOT:-$ROOT/artifacts/arm64-sysroot}"
ARM64_DIR="$ROOT/artifacts/arm64-tests"
RESULTS="$ROOT/artifacts/test-results"
SAMPLES_PROJECT=samples/Quantization.Samples.Embeddings.Tests
ALL_RUNS="x64-default x64-avx2 x64-sse x64-scalar samples-embeddings arm64-neon-dp arm64-neon"
RUNS="${QUANT_MATRIX_RUNS:-$ALL_RUNS}"
X64_TIMEOUT=900
ARM64_TIMEOUT=1500

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The tier switches must come only from this script.
unset DOTNET_EnableAVX512 DOTNET_EnableAVX2 DOTNET_EnableHWIntrinsic DOTNET_PreferredVectorBitWidth \
      DOTNET_EnableArm64Dp QUANT_EXPECTED_TIER QUANT_WRITE_GOLDEN

log() { printf '[matrix] %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

wants() { case " $RUNS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# The tier .NET picks without switches, from the CPU flags (.NET accelerates Vector512 only with the x86-64-v4 set).
detect_default_tier() {
    local flags
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    local f v4=1
    for f in avx512f avx512bw avx512cd avx512dq avx512vl; do
        [[ "$flags" == *" $f "* ]] || v4=0
    done
    if [ "$v4" = 1 ]; then echo avx512
    elif [[ "$flags" == *" avx2 "* ]]; then echo avx2
    else echo sse
    fi
}
DEFAULT_TIER="${QUANT_DEFAULT_TIER:-$(detect_default_tier)}"
AVX2_TIER=avx2
[ "$DEFAULT_TIER" = sse ] && AVX2_TIER=sse

TOTAL_PASSED=0 TOTAL_FAILED=0 TOTAL_SKIPPED=0
BAD_RUNS=()
SUMMARY_LINES=()

finish() {
    local line="$TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
    log "----------------------------------------------------------------------------------------------"
    local s
    for s in "${SUMMARY_LINES[@]}"; do log "$s"; done
    if [ "${#BAD_RUNS[@]}" -gt 0 ]; then
        log "FAILED runs: ${BAD_RUNS[*]}"
    else
        log "all runs passed"
    fi
    if [ -n "${QUANT_MATRIX_SUMMARY_FILE:-}" ]; then
        echo "$line" > "$QUANT_MATRIX_SUMMARY_FILE"
    else
        echo "$line"
    fi
    [ "${#BAD_RUNS[@]}" -eq 0 ]
    exit $?
}

# attr NAME XMLTAG -> value of NAME="..." in the given tag text
attr() { printf '%s' "$2" | grep -o " $1=\"[^\"]*\"" | head -n1 | cut -d'"' -f2; }
# last "  NAME: N" of the console summary
summary_value() { plain "$2" | grep -E "^[[:space:]]*$1: [0-9]+" | tail -n1 | grep -oE '[0-9]+' | tail -n1; }
# a log without ANSI colour codes (Microsoft.Testing.Platform colours its output when CI=true)
plain() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$1"; }

# record RUN LOG XML RC SECONDS
record() {
    local run=$1 logf=$2 xml=$3 rc=$4 secs=$5
    local problems=() passed=0 failed=0 skipped=0 errors=0 total=0 extra=""
    local asm=""
    [ -s "$xml" ] && asm="$(grep -o '<assembly [^>]*>' "$xml" | head -n1)"
    if [ -z "$asm" ]; then
        problems+=("no test results (exit $rc; did it start?)")
        failed=1
    else
        total=$(attr total "$asm"); passed=$(attr passed "$asm"); failed=$(attr failed "$asm")
        skipped=$(attr skipped "$asm"); errors=$(attr errors "$asm")
        local notrun; notrun=$(attr not-run "$asm")
        : "${total:=0}" "${passed:=0}" "${failed:=0}" "${skipped:=0}" "${errors:=0}" "${notrun:=0}"
        [ "$total" -gt 0 ] || problems+=("0 tests executed")
        [ "$failed" -eq 0 ] || problems+=("$failed failed")
        [ "$errors" -eq 0 ] || problems+=("$errors runner errors (results lost; counted as failed)")
        [ "$notrun" -eq 0 ] || problems+=("$notrun not run")
        # The console summary must agree with the report.
        local ctotal cfailed
        ctotal=$(summary_value total "$logf"); cfailed=$(summary_value failed "$logf")
        if [ "${ctotal:-x}" != "$total" ] || [ "${cfailed:-x}" != "$failed" ]; then
            problems+=("console summary (total ${ctotal:-?}, failed ${cfailed:-?}) disagrees with the report")
        fi
        if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && [ "$errors" -eq 0 ]; then
            problems+=("exit code $rc")
        fi
        failed=$((failed + errors))
        local variant tier
        variant=$(grep -o 'ggml variant=[^ <]*' "$xml" | head -n1 | cut -d= -f2)
        tier=$(grep -o 'expected=[^ <]* detected=[^ <]*' "$xml" | head -n1 | sed 's/.*detected=//')
        extra="tier=${tier:-?} ggml=${variant:-?}"
    fi
    if [ "$failed" -eq 0 ] && [ "${#problems[@]}" -gt 0 ]; then
        failed=1 # a run that did not run properly is never reported as 0 failed
    fi
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))
    local status=PASS
    if [ "${#problems[@]}" -gt 0 ]; then
        status=FAIL
        BAD_RUNS+=("$run")
    fi
    local line
    line=$(printf '%-14s %s  total %4s  passed %4s  failed %4s  skipped %3s  %-26s %6ss' \
        "$run" "$status" "$total" "$passed" "$failed" "$skipped" "$extra" "$secs")
    SUMMARY_LINES+=("$line")
    log "$line"
    if [ "$status" = FAIL ]; then
        local p
        for p in "${problems[@]}"; do log "  $run: $p"; done
        # Failed tests with the first line of their message (all of it in the log file).
        plain "$logf" | awk '/^failed / { n++; if (n <= 30) { print "    " $0; getline; print "      " $0 } }
                             END { if (n > 30) print "    ... and " n - 30 " more" }'
        log "  full output: $logf"
    fi
}

report_args() { echo "--report-xunit-xml --report-xunit-xml-filename $1.xml --results-directory $RESULTS"; }

# run_x64 RUN TIER [VAR=VALUE...]
run_x64() {
    local run=$1 tier=$2; shift 2
    wants "$run" || return 0
    local logf="$RESULTS/$run.log" xml="$RESULTS/$run.xml" t0 rc extra=()
    log "run $run: ${*:-(no switches)} QUANT_EXPECTED_TIER=$tier"
    # The default run is the README's command as written (it checks that the build is up to date); the others
    # reuse its binaries.
    [ "$run" = x64-default ] || extra=(--no-build)
    t0=$(now)
    # shellcheck disable=SC2046
    env "$@" QUANT_EXPECTED_TIER="$tier" timeout -k 30 "$X64_TIMEOUT" \
        dotnet test "$PROJECT" -c Release "${extra[@]}" $(report_args "$run") </dev/null >"$logf" 2>&1
    rc=$?
    record "$run" "$logf" "$xml" "$rc" "$(elapsed "$t0")"
}

# run_samples RUN PROJECT: a sample's test project on the default tier, built by its own `dotnet test`.
run_samples() {
    local run=$1 project=$2
    wants "$run" || return 0
    local logf="$RESULTS/$run.log" xml="$RESULTS/$run.xml" t0 rc
    log "run $run: dotnet test $project -c Release"
    t0=$(now)
    # shellcheck disable=SC2046
    timeout -k 30 "$X64_TIMEOUT" dotnet test "$project" -c Release $(report_args "$run") </dev/null >"$logf" 2>&1
    rc=$?
    record "$run" "$logf" "$xml" "$rc" "$(elapsed "$t0")"
}

# run_arm64 RUN TIER [qemu args...]
run_arm64() {
    local run=$1 tier=$2; shift 2
    wants "$run" || return 0
    local logf="$RESULTS/$run.log" xml="$RESULTS/$run.xml" t0 rc
    log "run $run: qemu-aarch64-static ${*:-(default CPU)} QUANT_EXPECTED_TIER=$tier"
    if [ ! -x "$ARM64_DIR/Quantization.Tests" ] || [ ! -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] \
        || ! command -v qemu-aarch64-static >/dev/null; then
        : >"$logf"
        log "  cannot start: needs $ARM64_DIR/Quantization.Tests, the sysroot $SYSROOT and qemu-aarch64-static (eng/ci-install.sh)"
        record "$run" "$logf" "$xml" 127 0
        return 0
    fi
    t0=$(now)
    # DOTNET_EnableWriteXorExecute=0: with W^X, .NET writes code through a second mapping of the executable pages, which
    # qemu-user does not watch, so re-used code memory can run stale translations (seen: NullReferenceException inside
    # reflection invoke stubs that made xunit drop a whole theory's results). Emulators need W^X off.
    # shellcheck disable=SC2046
    env QEMU_LD_PREFIX="$SYSROOT" DOTNET_EnableWriteXorExecute=0 QUANT_EXPECTED_TIER="$tier" \
        timeout -k 30 "$ARM64_TIMEOUT" qemu-aarch64-static "$@" "$ARM64_DIR/Quantization.Tests" --no-ansi $(report_args "$run") \
        </dev/null >"$logf" 2>&1
    rc=$?
    record "$run" "$logf" "$xml" "$rc" "$(elapsed "$t0")"
}

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
log "runs: $RUNS; default tier: $DEFAULT_TIER"

# --- build ---------------------------------------------------------------------------------------
if wants x64-default || wants x64-avx2 || wants x64-sse || wants x64-scalar; then
    t0=$(now)
    log "build: dotnet build $PROJECT -c Release"
    if ! dotnet build "$PROJECT" -c Release -nologo -clp:ErrorsOnly </dev/null >"$RESULTS/build.log" 2>&1; then
        tail -n 40 "$RESULTS/build.log"
        log "build FAILED ($(elapsed "$t0")s)"
        BAD_RUNS+=(build); TOTAL_FAILED=$((TOTAL_FAILED + 1))
        finish
    fi
    log "build done ($(elapsed "$t0")s)"
fi
if wants arm64-neon-dp || wants arm64-neon; then
    t0=$(now)
    log "publish: dotnet publish $PROJECT -c Release -r linux-arm64 --self-contained -o artifacts/arm64-tests"
    rm -rf "$ARM64_DIR"
    if ! dotnet publish "$PROJECT" -c Release -r linux-arm64 --self-contained -o "$ARM64_DIR" -nologo -clp:ErrorsOnly \
        </dev/null >"$RESULTS/publish-arm64.log" 2>&1; then
        tail -n 40 "$RESULTS/publish-arm64.log"
        log "publish FAILED ($(elapsed "$t0")s): the arm64 runs cannot start"
    else
        log "publish done ($(elapsed "$t0")s)"
    fi
fi

# --- runs ----------------------------------------------------------------------------------------
run_x64 x64-default "$DEFAULT_TIER"
run_x64 x64-avx2    "$AVX2_TIER" DOTNET_EnableAVX512=0
run_x64 x64-sse     sse          DOTNET_EnableAVX2=0
run_x64 x64-scalar  scalar       DOTNET_EnableHWIntrinsic=0
run_samples samples-embeddings "$SAMPLES_PROJECT"
run_arm64 arm64-neon-dp neon-dp
run_arm64 arm64-neon    neon -cpu cortex-a72

finish
