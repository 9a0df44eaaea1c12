using System.Buffers.Binary;
using Quantization.Kernels;

namespace Quantization.Schemes;

/// <summary>Reading and writing a scheme's scales in their scale type (little-endian).</summary>
internal static class SchemeScales
{
    /// <summary>
    /// The value <paramref name="scale"/> (non-negative, possibly +∞) is stored as: rounded to nearest even in the scale
    /// type, and clamped to the type's largest finite value so that a stored scale is always finite.
    /// </summary>
    public static float Round(SchemeScaleType type, float scale) => type switch
    {
        SchemeScaleType.F16 => Fp16.ToSingle(ToF16(scale)),
        SchemeScaleType.BF16 => BitConverter.Int32BitsToSingle(ToBF16(scale) << 16),
        _ => MathF.Min(scale, float.MaxValue),
    };

    /// <summary>Writes <paramref name="scale"/> (already <see cref="Round"/>ed) as scale <paramref name="index"/>.</summary>
    public static void Write(SchemeScaleType type, Span<byte> scales, long index, float scale)
    {
        switch (type)
        {
            case SchemeScaleType.F16:
                BinaryPrimitives.WriteUInt16LittleEndian(scales[checked((int)(index * 2))..], ToF16(scale));
                break;
            case SchemeScaleType.BF16:
                BinaryPrimitives.WriteUInt16LittleEndian(scales[checked((int)(index * 2))..], (ushort)ToBF16(scale));
                break;
            default:
                BinaryPrimitives.WriteSingleLittleEndian(scales[checked((int)(index * 4))..], scale);
                break;
        }
    }

    /// <summary>Reads scale <paramref name="index"/>.</summary>
    public static float Read(SchemeScaleType type, ReadOnlySpan<byte> scales, long index) => type switch
    {
        SchemeScaleType.F16 => Fp16.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(scales[checked((int)(index * 2))..])),
        SchemeScaleType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(scales[checked((int)(index * 2))..]) << 16),
        _ => BinaryPrimitives.ReadSingleLittleEndian(scales[checked((int)(index * 4))..]),
    };

    private static ushort ToF16(float scale) => Fp16.FromSingle(MathF.Min(scale, 65504f));

    /// <summary>Round to nearest even on the bits; a result of ∞ (0x7F80) becomes the largest finite bfloat16 (0x7F7F).</summary>
    private static int ToBF16(float scale)
    {
        int bits = BitConverter.SingleToInt32Bits(scale);
        int rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
        return Math.Min(rounded, 0x7F7F);
    }
}
