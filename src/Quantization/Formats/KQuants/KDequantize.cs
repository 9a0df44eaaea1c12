using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>y = (d·sc)·q − (dmin·m) per lane, NaNs as <see cref="KDequantize.Value"/> gives them.</summary>
internal readonly struct ScaledMinusMinValueOp(float d, float m) : IValueOp
{
    public Vector128<float> Invoke(Vector128<int> q) => KDequantize.NegatedAddend && float.IsNaN(m)
        ? Vector128.Create(-m)
        : Vector128.Create(d) * Vector128.ConvertToSingle(q) - Vector128.Create(m);

    public Vector256<float> Invoke(Vector256<int> q) => KDequantize.NegatedAddend && float.IsNaN(m)
        ? Vector256.Create(-m)
        : Vector256.Create(d) * Vector256.ConvertToSingle(q) - Vector256.Create(m);

    public Vector512<float> Invoke(Vector512<int> q) => KDequantize.NegatedAddend && float.IsNaN(m)
        ? Vector512.Create(-m)
        : Vector512.Create(d) * Vector512.ConvertToSingle(q) - Vector512.Create(m);
}

/// <summary>Vector dequantization of Q4_K and Q5_K: per 64-value chunk two sub-blocks, 16 values per widening step.</summary>
internal static class KDequantize
{
    /// <summary>
    /// ggml's arm64 build contracts <c>d1 * q - m1</c> to one fused multiply-subtract (FNMSUB), which negates m1 and
    /// returns it, sign flipped, whenever it is a NaN, whatever the product; x86 ggml subtracts, so a NaN m1 passes
    /// unchanged there and a NaN product wins over it. Every other value is the same either way (d1·q is exact: an
    /// FP16 times a 6-bit code times a 5-bit code, so fusing changes no rounding). The NaN case is chosen explicitly
    /// because the JIT may swap the operands of an addition.
    /// </summary>
    public static readonly bool NegatedAddend = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    /// <summary>One dequantized value, (d·sc)·q − (dmin·m), NaNs as the platform's ggml gives them (<see cref="NegatedAddend"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(float d1, int q, float m1) => NegatedAddend && float.IsNaN(m1) ? -m1 : d1 * q - m1;

    /// <remarks>
    /// Never inlined: the kernel's one-line forwarder would then be the JIT's compile root, and its small inlining budget
    /// runs out before <see cref="Chunks"/> and its helpers are inlined (the dequantizer ran at a third of its speed).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Q4_K(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ4_K> x = MemoryMarshal.Cast<byte, BlockQ4_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly BlockQ4_K b = ref x[i];
            Chunks(b.D, b.DMin, b.Scales, in b.Qs[0], [], ref Unsafe.Add(ref yr, 256 * i));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // see Q4_K
    public static void Q5_K(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockQ5_K> x = MemoryMarshal.Cast<byte, BlockQ5_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly BlockQ5_K b = ref x[i];
            Chunks(b.D, b.DMin, b.Scales, in b.Qs[0], b.Qh, ref Unsafe.Add(ref yr, 256 * i));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunks(ushort dBits, ushort dminBits, ReadOnlySpan<byte> scales, ref readonly byte qs, ReadOnlySpan<byte> qh, ref float y)
    {
        float d = Fp16.ToSingle(dBits);
        float min = Fp16.ToSingle(dminBits);
        Vector128<byte> nibble = Vector128.Create((byte)0x0F);
        Vector128<byte> bit4 = Vector128.Create((byte)0x10);
        Vector128<byte> h0 = Vector128<byte>.Zero, h1 = Vector128<byte>.Zero;
        bool hasHigh = !qh.IsEmpty; // Q5_K's fifth bits
        if (hasHigh)
        {
            h0 = Vector128.Create(qh[..16]);
            h1 = Vector128.Create(qh[16..32]);
        }

        for (int c = 0; c < 4; ++c)
        {
            KScales.Get(2 * c, scales, out int sc, out int m);
            var op1 = new ScaledMinusMinValueOp(d * sc, min * m);
            KScales.Get(2 * c + 1, scales, out sc, out m);
            var op2 = new ScaledMinusMinValueOp(d * sc, min * m);

            Vector128<byte> q0 = Vector128.LoadUnsafe(in qs, (nuint)(32 * c));
            Vector128<byte> q1 = Vector128.LoadUnsafe(in qs, (nuint)(32 * c + 16));
            Vector128<byte> lo0 = q0 & nibble, lo1 = q1 & nibble;
            Vector128<byte> hi0 = Vector128.ShiftRightLogical(q0, 4), hi1 = Vector128.ShiftRightLogical(q1, 4);
            if (hasHigh)
            {
                // bit 2c of qh[l] is bit 4 of element 64c + l, bit 2c + 1 that of element 64c + 32 + l
                lo0 |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(h0, 2 * c), 4) & bit4;
                lo1 |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(h1, 2 * c), 4) & bit4;
                hi0 |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(h0, 2 * c + 1), 4) & bit4;
                hi1 |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(h1, 2 * c + 1), 4) & bit4;
            }

            ref float yc = ref Unsafe.Add(ref y, 64 * c);
            Block32.Values16(lo0.AsSByte(), op1, ref yc);
            Block32.Values16(lo1.AsSByte(), op1, ref Unsafe.Add(ref yc, 16));
            Block32.Values16(hi0.AsSByte(), op2, ref Unsafe.Add(ref yc, 32));
            Block32.Values16(hi1.AsSByte(), op2, ref Unsafe.Add(ref yc, 48));
        }
    }
}
