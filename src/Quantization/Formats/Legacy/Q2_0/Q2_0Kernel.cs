using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Q2_0 kernels over <see cref="Block32"/>, identical in bytes and floats to <see cref="Q2_0Reference"/>: max |x| is
/// exact in any order, and every code is the reference's element-wise step.
/// </summary>
internal sealed class Q2_0Kernel : IFastKernel
{
    public static QuantType Type => QuantType.Q2_0;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        Span<BlockQ2_0> y = MemoryMarshal.Cast<byte, BlockQ2_0>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < y.Length; i++)
        {
            ref float xb = ref Unsafe.Add(ref xr, i * BlockQ2_0.Values);
            float amax = MathF.Max(Block32.MaxAbs(ref xb), Block32.MaxAbs(ref Unsafe.Add(ref xb, 32)));
            float id = amax > 0.0f ? 1.0f / amax : 0.0f;
            y[i].D = Fp16.FromSingle(amax);

            // |x·id| ≤ 1 up to rounding, so roundf gives −1, 0 or 1 and the int8 cast of RoundAwayCodeOp loses nothing.
            var op = new RoundAwayCodeOp(id);
            Block32.Codes(ref xb, op, out Vector128<byte> c0, out Vector128<byte> c1);
            Block32.Codes(ref Unsafe.Add(ref xb, 32), op, out Vector128<byte> c2, out Vector128<byte> c3);
            Vector128<ushort> p01 = Vector128.Narrow(Pack4(c0), Pack4(c1));
            Vector128<ushort> p23 = Vector128.Narrow(Pack4(c2), Pack4(c3));
            Vector128.Narrow(p01, p23).StoreUnsafe(ref y[i].Qs[0]);
        }
    }

    /// <summary>
    /// Sixteen signed codes −1..1 → four bytes (in the low byte of each uint lane) holding q = code + 1 of elements
    /// 4k..4k+3 at bits 0, 2, 4, 6.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Pack4(Vector128<byte> codes)
    {
        Vector128<sbyte> q = Vector128.Min(Vector128.Max(codes.AsSByte() + Vector128<sbyte>.One, Vector128<sbyte>.Zero), Vector128.Create((sbyte)3));
        Vector128<uint> v = q.AsUInt32();
        return (v | Vector128.ShiftRightLogical(v, 6) | Vector128.ShiftRightLogical(v, 12) | Vector128.ShiftRightLogical(v, 18)) & Vector128.Create(0xFFu);
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        // Each lane masks its field in place and scales it down by a power of two: exact, so (q − 1)·d is the reference's.
        ReadOnlySpan<BlockQ2_0> x = MemoryMarshal.Cast<byte, BlockQ2_0>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            ref byte qs = ref Unsafe.AsRef(in x[i].Qs[0]);
            ref float y = ref Unsafe.Add(ref yr, i * BlockQ2_0.Values);
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<uint> fields = Vector512.Create(3u << 0, 3u << 2, 3u << 4, 3u << 6, 3u << 8, 3u << 10, 3u << 12, 3u << 14,
                                                          3u << 16, 3u << 18, 3u << 20, 3u << 22, 3u << 24, 3u << 26, 3u << 28, 3u << 30);
                Vector512<float> down = Vector512.Create(1f, 1f / (1 << 2), 1f / (1 << 4), 1f / (1 << 6), 1f / (1 << 8), 1f / (1 << 10), 1f / (1 << 12), 1f / (1 << 14),
                                                         1f / (1 << 16), 1f / (1 << 18), 1f / (1 << 20), 1f / (1 << 22), 1f / (1 << 24), 1f / (1 << 26), 1f / (1 << 28), 1f / (1 << 30));
                Vector512<float> dv = Vector512.Create(d);
                for (int k = 0; k < 4; k++)
                {
                    Vector512<float> q = Vector512.ConvertToSingle(Vector512.Create(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref qs, 4 * k))) & fields) * down;
                    ((q - Vector512<float>.One) * dv).StoreUnsafe(ref y, (nuint)(16 * k));
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<int> fields = Vector256.Create(3 << 0, 3 << 2, 3 << 4, 3 << 6, 3 << 8, 3 << 10, 3 << 12, 3 << 14);
                Vector256<float> down = Vector256.Create(1f, 1f / (1 << 2), 1f / (1 << 4), 1f / (1 << 6), 1f / (1 << 8), 1f / (1 << 10), 1f / (1 << 12), 1f / (1 << 14));
                Vector256<float> dv = Vector256.Create(d);
                for (int k = 0; k < 8; k++)
                {
                    Vector256<float> q = Vector256.ConvertToSingle(Vector256.Create((int)Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref qs, 2 * k))) & fields) * down;
                    ((q - Vector256<float>.One) * dv).StoreUnsafe(ref y, (nuint)(8 * k));
                }
            }
            else
            {
                Vector128<int> fields = Vector128.Create(3 << 0, 3 << 2, 3 << 4, 3 << 6);
                Vector128<float> down = Vector128.Create(1f, 1f / (1 << 2), 1f / (1 << 4), 1f / (1 << 6));
                Vector128<float> dv = Vector128.Create(d);
                for (int k = 0; k < 16; k++)
                {
                    Vector128<float> q = Vector128.ConvertToSingle(Vector128.Create((int)Unsafe.Add(ref qs, k)) & fields) * down;
                    ((q - Vector128<float>.One) * dv).StoreUnsafe(ref y, (nuint)(4 * k));
                }
            }
        }
    }
}
