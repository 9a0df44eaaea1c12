using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>
/// Q2_0 weights against Q8_0 (<c>ggml_vec_dot_q2_0_q8_0</c>): a 64-value block meets two Q8_0 blocks, each against 8
/// bytes of 2-bit codes. Code = q − 1 (−1..2); unsigned form q (<see cref="Offset"/> 1).
/// </summary>
internal readonly struct Q2_0Weights : IWideBlockWeights
{
    public static QuantType WeightType => QuantType.Q2_0;
    public static int BlockBytes => BlockQ2_0.Size;
    public static int SubBlocks => 2;
    public static int SubBlockBytes => 8;
    public static bool HasMin => false;
    public static bool NonNegative => false;
    public static int Offset => 1;

    /// <summary>Σ (q − 1)·y over one Q8_0 block, four codes per byte as ggml's generic kernel.</summary>
    public static int IntegerSumReference(ref readonly byte codes, ref readonly sbyte y)
    {
        ref byte qs = ref Unsafe.AsRef(in codes);
        ref sbyte yr = ref Unsafe.AsRef(in y);
        int sumi = 0;
        for (int b = 0; b < 8; b++)
        {
            int packed = Unsafe.Add(ref qs, b);
            for (int l = 0; l < 4; l++)
            {
                sumi += (((packed >> (2 * l)) & 3) - 1) * Unsafe.Add(ref yr, 4 * b + l);
            }
        }

        return sumi;
    }

    /// <summary>ggml's term of one Q8_0 block inside the 64-value block, d_y·Σ; the block's d_x multiplies their sum.</summary>
    public static float ScaleReference(int sumi, float dx, float dy) => dy * sumi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> DecodeUnsigned256(ref readonly byte codes)
    {
        // Both lanes hold the 8 code bytes; byte j takes code byte j / 4, then keeps its own 2-bit field.
        Vector128<byte> packed = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(in codes)).AsByte();
        Vector256<byte> spread = Avx2.Shuffle(Vector256.Create(packed, packed),
            Vector256.Create((byte)0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7));
        Vector256<ushort> s = spread.AsUInt16();
        return (spread & Vector256.Create(0x00000003u).AsByte())
             | (Vector256.ShiftRightLogical(s, 2).AsByte() & Vector256.Create(0x00000300u).AsByte())
             | (Vector256.ShiftRightLogical(s, 4).AsByte() & Vector256.Create(0x00030000u).AsByte())
             | (Vector256.ShiftRightLogical(s, 6).AsByte() & Vector256.Create(0x03000000u).AsByte());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode256(ref readonly byte codes) =>
        (DecodeUnsigned256(in codes) - Vector256<byte>.One).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Decode128(ref readonly byte codes, out Vector128<sbyte> high)
    {
        Vector128<byte> packed = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(in codes)).AsByte();
        high = (Fields128(Vector128.Shuffle(packed, Vector128.Create((byte)4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7))) - Vector128<byte>.One).AsSByte();
        return (Fields128(Vector128.Shuffle(packed, Vector128.Create((byte)0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3))) - Vector128<byte>.One).AsSByte();
    }

    /// <summary>Byte j (holding code byte j / 4) → its field j % 4, 0..3. Word shifts: bits pulled in from the neighbour byte land above the mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Fields128(Vector128<byte> spread)
    {
        Vector128<ushort> s = spread.AsUInt16();
        return (spread & Vector128.Create(0x00000003u).AsByte())
             | (Vector128.ShiftRightLogical(s, 2).AsByte() & Vector128.Create(0x00000300u).AsByte())
             | (Vector128.ShiftRightLogical(s, 4).AsByte() & Vector128.Create(0x00030000u).AsByte())
             | (Vector128.ShiftRightLogical(s, 6).AsByte() & Vector128.Create(0x03000000u).AsByte());
    }
}
