using System.Runtime.InteropServices;

namespace Quantization.Formats;

/// <summary>
/// I2_S (bitnet.cpp, x86 layout): 128 ternary values as 2-bit codes 0, 1, 2 = −1, 0, +1 (3 reads as 0). Byte j holds
/// elements j (bits 7:6), j + 32 (bits 5:4), j + 64 (bits 3:2) and j + 96 (bits 1:0). The blocks carry no scale: the
/// tensor's one float32 scale follows the last block (<see cref="I2_SReference.TrailerBytes"/> bytes, zero-padded).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockI2_S
{
    public const int Size = 32;
    public Bytes32 Qs;
}
