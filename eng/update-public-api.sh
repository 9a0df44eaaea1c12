#!/usr/bin/env bash
# Appends every public symbol the PublicApiAnalyzers report as undeclared (RS0016) to PublicAPI.Unshipped.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
proj=src/Quantization
dotnet build "$proj" -p:TreatWarningsAsErrors=false 2>&1 \
  | grep -oP "RS0016: Symbol '\K.*(?=' is not part of the declared public API)" | sort -u >> "$proj/PublicAPI.Unshipped.txt" || true
{ head -n1 "$proj/PublicAPI.Unshipped.txt"; tail -n +2 "$proj/PublicAPI.Unshipped.txt" | sort -u; } > "$proj/PublicAPI.tmp" && mv "$proj/PublicAPI.tmp" "$proj/PublicAPI.Unshipped.txt"
