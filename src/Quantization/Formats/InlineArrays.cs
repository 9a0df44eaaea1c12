using System.Runtime.CompilerServices;

namespace Quantization.Formats;

#pragma warning disable CS0169, IDE0044, IDE0051 // element fields of inline arrays are never accessed by name

[InlineArray(4)] internal struct Bytes4 { private byte _e0; }
[InlineArray(8)] internal struct Bytes8 { private byte _e0; }
[InlineArray(12)] internal struct Bytes12 { private byte _e0; }
[InlineArray(16)] internal struct Bytes16 { private byte _e0; }
[InlineArray(32)] internal struct Bytes32 { private byte _e0; }
[InlineArray(48)] internal struct Bytes48 { private byte _e0; }
[InlineArray(64)] internal struct Bytes64 { private byte _e0; }
[InlineArray(128)] internal struct Bytes128 { private byte _e0; }
[InlineArray(16)] internal struct SBytes16 { private sbyte _e0; }
[InlineArray(32)] internal struct SBytes32 { private sbyte _e0; }
[InlineArray(256)] internal struct SBytes256 { private sbyte _e0; }
[InlineArray(16)] internal struct Int16s16 { private short _e0; }

#pragma warning restore CS0169, IDE0044, IDE0051
