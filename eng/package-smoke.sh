#!/usr/bin/env bash
# Packs the library, references the package from a fresh consumer and publishes it with NativeAOT
# (trim/AOT warnings are errors), then runs it. Proves `dotnet pack` gives a package a consumer can use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/artifacts/package-smoke"
rm -rf "$work" && mkdir -p "$work/feed" "$work/consumer"
# A version of its own each run: the global package cache would otherwise serve an older package of the same version.
dotnet pack "$root/src/Quantization" -c Release -o "$work/feed" --nologo -v q -p:ContinuousIntegrationBuild=true -p:PackageVersion="0.0.0-smoke.$(date +%s)"
version=$(ls "$work/feed"/Quantization.*.nupkg | grep -v snupkg | sed -E 's/.*Quantization\.(.*)\.nupkg/\1/')
dotnet pack "$root/src/Quantization.Cli" -c Release -o "$work/feed" --nologo -v q -p:PackageVersion="$version"

# Package metadata: repository, project page and SPDX license in both nuspecs; a package-page README without
# relative links; SourceLink in the symbol package's PDB pointing at the repository's raw sources.
fail() { echo "package-smoke: $*" >&2; exit 1; }
for id in Quantization Quantization.Cli; do
    nupkg="$work/feed/$id.$version.nupkg"
    nuspec=$(unzip -p "$nupkg" "$id.nuspec")
    grep -Eq '<repository type="git" url="https://[^"]+"' <<<"$nuspec" || fail "$id: no repository url in the nuspec"
    grep -Eq '<projectUrl>https://' <<<"$nuspec" || fail "$id: no project url in the nuspec"
    grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || fail "$id: the license is not the SPDX expression MIT"
    readme=$(unzip -p "$nupkg" README.md) || fail "$id: no README.md in the package"
    if grep -Eo '\]\([^)]+\)' <<<"$readme" | grep -Ev '\]\((https?://|#)' >/dev/null; then
        fail "$id: README.md links to files outside the package"
    fi
    echo "$id: nuspec repository, project url, license and README ok"
done
pdb=$(unzip -p "$work/feed/Quantization.$version.snupkg" lib/net10.0/Quantization.pdb | grep -ao '{"documents":{[^}]*}' || true)
grep -q 'https://raw.githubusercontent.com/' <<<"$pdb" || fail "no SourceLink in the symbol package's PDB: $pdb"
if commit=$(git -C "$root" rev-parse HEAD 2>/dev/null); then
    grep -q "$commit" <<<"$pdb" || fail "SourceLink does not name the built commit $commit: $pdb"
fi
echo "SourceLink: $pdb"

# Deterministic build: a clean rebuild gives the packed assembly bit for bit.
dotnet build "$root/src/Quantization" -c Release --no-incremental --nologo -v q -p:ContinuousIntegrationBuild=true -o "$work/rebuild" >/dev/null
unzip -p "$work/feed/Quantization.$version.nupkg" lib/net10.0/Quantization.dll > "$work/packed.dll"
cmp -s "$work/packed.dll" "$work/rebuild/Quantization.dll" || fail "a rebuild does not reproduce the packed Quantization.dll"
echo "deterministic build ok"
sed "s/@VERSION@/$version/" "$root/eng/package-smoke/Consumer.csproj.template" > "$work/consumer/Consumer.csproj"
cp "$root/eng/package-smoke/Program.cs" "$work/consumer/"
cat > "$work/consumer/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local" value="$work/feed" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="Quantization" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
# Keep the consumer outside the repository's Directory.*.props.
echo '<Project />' > "$work/Directory.Build.props"
echo '<Project />' > "$work/Directory.Packages.props"
dotnet publish "$work/consumer" -c Release -r linux-x64 -o "$work/out" --nologo -v q -p:NuGetAudit=false
"$work/out/Consumer"
