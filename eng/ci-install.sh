#!/usr/bin/env bash
# Installs what CI needs on a Debian 12 x86-64 machine that already has the .NET 10 SDK:
#   1. qemu-user-static (runs the linux-arm64 test build; there is no binfmt_misc, so it is called explicitly);
#   2. a Debian 13 (trixie) arm64 sysroot in artifacts/arm64-sysroot (the arm64 ggml needs glibc >= 2.38;
#      Debian 12's arm64 libc is 2.36), used as QEMU_LD_PREFIX. See docs/testing.md#arm64-under-qemu.
# Idempotent: work already done is skipped. Needs root (or sudo) only for the apt-get install step.
# No host name is written here: the arm64 sources are the machine's own Debian sources with the suites rewritten.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYSROOT="${QUANT_ARM64_SYSROOT:-$ROOT/artifacts/arm64-sysroot}"
APTDIR="$ROOT/artifacts/arm64-apt"
TARGET_SUITE=trixie

# Runtime closure of the self-contained .NET test executable + xunit v3 + the arm64 ggml:
#   libc6 (glibc >= 2.38 for ggml), libstdc++6 + libgcc-s1 (.NET host, ggml), libgomp1 (ggml-cpu),
#   libssl3t64 (SHA-256 in xunit v3 goes through OpenSSL) with its dependencies zlib1g and libzstd1.
# libicu76 is not needed: Directory.Build.props sets InvariantGlobalization.
ARM64_PACKAGES=(libc6 libstdc++6 libgcc-s1 libgomp1 libssl3t64 zlib1g libzstd1)

log() { printf '[ci-install] %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else log "need root for: $*"; return 1
    fi
}

export DEBIAN_FRONTEND=noninteractive

# --- 0. the .NET SDK must already be there -------------------------------------------------------
if ! command -v dotnet >/dev/null 2>&1; then
    log "dotnet is not on PATH: install the .NET 10 SDK first"
    exit 1
fi

# --- 1. host packages ----------------------------------------------------------------------------
# clang-14 and zlib1g-dev: the NativeAOT publish of eng/package-smoke.sh links with them; unzip: it reads the packages.
HOST_PACKAGES=(qemu-user-static clang-14 zlib1g-dev unzip)
missing=()
for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "host packages present: ${HOST_PACKAGES[*]}"
fi
command -v qemu-aarch64-static >/dev/null || { log "qemu-aarch64-static missing after install"; exit 1; }

# --- 2. Debian trixie arm64 sysroot --------------------------------------------------------------
STAMP="$SYSROOT/.ci-sysroot"
WANT="suite=$TARGET_SUITE packages=${ARM64_PACKAGES[*]}"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
    log "arm64 sysroot up to date: $SYSROOT"
    exit 0
fi

log "building the $TARGET_SUITE arm64 sysroot in $SYSROOT"
rm -rf "$APTDIR" "$SYSROOT"
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/sources.list.d" "$APTDIR/preferences.d" \
    "$APTDIR/debs" "$SYSROOT"
: > "$APTDIR/status"

# The machine's own deb822 sources, suites rewritten to trixie (-updates suites dropped, -security kept).
# Only the Suites: lines change, so URIs and Signed-By stay those this machine already trusts.
HOST_SOURCES=/etc/apt/sources.list.d/debian.sources
if [ ! -f "$HOST_SOURCES" ]; then
    log "$HOST_SOURCES not found: cannot derive the arm64 sources"
    exit 1
fi
awk -v t="$TARGET_SUITE" '
    /^[Ss]uites:/ {
        out = "";
        for (i = 2; i <= NF; i++) {
            s = $i;
            if (s ~ /-(updates|backports|proposed-updates)$/) continue;
            if (s ~ /-security$/) s = t "-security"; else s = t;
            if (index(" " out " ", " " s " ") == 0) out = out " " s;
        }
        print "Suites:" out;
        next
    }
    { print }' "$HOST_SOURCES" > "$APTDIR/sources.list.d/debian.sources"

# Drop a stanza whose Suites: line became empty (it only had -updates suites).
awk 'BEGIN { RS = ""; ORS = "\n\n" } !/(^|\n)Suites:[ \t]*(\n|$)/' "$APTDIR/sources.list.d/debian.sources" \
    > "$APTDIR/sources.list.d/debian.sources.tmp"
mv "$APTDIR/sources.list.d/debian.sources.tmp" "$APTDIR/sources.list.d/debian.sources"

cat > "$APTDIR/apt.conf" <<EOF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
Dir::State "$APTDIR";
Dir::State::Lists "$APTDIR/lists";
Dir::State::status "$APTDIR/status";
Dir::Cache "$APTDIR/cache";
Dir::Cache::archives "$APTDIR/cache/archives";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$APTDIR/sources.list.d";
Dir::Etc::Preferences "$APTDIR/preferences";
Dir::Etc::PreferencesParts "$APTDIR/preferences.d";
Acquire::Languages "none";
EOF
# The downloads go to a folder under the repository: as root, skip apt's switch to the _apt user (it cannot write there).
[ "$(id -u)" -ne 0 ] || echo 'APT::Sandbox::User "root";' >> "$APTDIR/apt.conf"
export APT_CONFIG="$APTDIR/apt.conf"

log "apt-get update (private arm64 configuration)"
apt-get update -qq
(cd "$APTDIR/debs" && apt-get download -qq "${ARM64_PACKAGES[@]}")

for deb in "$APTDIR"/debs/*.deb; do
    dpkg-deb -x "$deb" "$SYSROOT"
done
# trixie is merged-/usr; the ELF interpreter is /lib/ld-linux-aarch64.so.1.
[ -e "$SYSROOT/lib" ] || ln -s usr/lib "$SYSROOT/lib"
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || { log "no ld-linux-aarch64.so.1 in the sysroot"; exit 1; }

ls "$APTDIR"/debs/*.deb | xargs -n1 basename | sed 's/^/[ci-install]   /'
rm -rf "$APTDIR/cache" "$APTDIR/lists"
echo "$WANT" > "$STAMP"
log "arm64 sysroot ready: $SYSROOT"
