#!/usr/bin/env bash
# Packs the library, references the package from a fresh consumer and publishes it with NativeAOT
# (trim/AOT warnings are errors), then runs it. Proves `dotnet pack` gives a package a consumer can use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/artifacts/package-smoke"
rm -rf "$work" && mkdir -p "$work/feed" "$work/consumer"
# A version of its own each run: the global package cache would otherwise serve an older package of the same version.
dotnet pack "$root/src/Quantization" -c Release -o "$work/feed" --nologo -v q -p:PackageVersion="0.0.0-smoke.$(date +%s)"
version=$(ls "$work/feed"/Quantization.*.nupkg | grep -v snupkg | sed -E 's/.*Quantization\.(.*)\.nupkg/\1/')
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
