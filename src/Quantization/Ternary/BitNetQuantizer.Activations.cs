using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Ternary;

public static partial class BitNetQuantizer
{
    /// <summary>
    /// Quantizes activations per token (per row) to int8 as bitnet.cpp's CPU inference does (<c>quantize_row_i8_s</c>):
    /// <c>max = max(1e-5, max|x|)</c> in double, <c>s = (float)(127 / max)</c>, <c>q = clamp(nearest_int(x·s), −128, 127)</c>
    /// with x·s a float32 product rounded half to even; it also returns Σq per row, which the ternary dot product
    /// subtracts to turn the unsigned codes {0, 1, 2} back into {−1, 0, +1}.
    /// </summary>
    /// <param name="activations">Whole rows of <paramref name="rowLength"/> values; every value must be finite.</param>
    /// <param name="rowLength">Values per row (token); positive.</param>
    /// <param name="codes">At least <c>activations.Length</c> codes.</param>
    /// <param name="scales">At least one scale s per row: a value is about <c>q / s</c>.</param>
    /// <param name="sums">At least one Σq per row.</param>
    /// <exception cref="ArgumentException">A length is wrong, or a value is NaN or infinite.</exception>
    public static void QuantizeActivations(ReadOnlySpan<float> activations, int rowLength, Span<sbyte> codes, Span<float> scales, Span<int> sums)
    {
        if (rowLength <= 0)
        {
            ThrowHelper.ThrowArgument(nameof(rowLength), $"Row length {rowLength} is not positive.");
        }

        if (activations.Length % rowLength != 0)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"{activations.Length} values are not a whole number of rows of {rowLength}.");
        }

        int rows = activations.Length / rowLength;
        if (codes.Length < activations.Length)
        {
            ThrowHelper.ThrowArgument(nameof(codes), $"Codes has room for {codes.Length} values; {activations.Length} are needed.");
        }

        if (scales.Length < rows)
        {
            ThrowHelper.ThrowArgument(nameof(scales), $"Scales has room for {scales.Length} rows; {rows} are needed.");
        }

        if (sums.Length < rows)
        {
            ThrowHelper.ThrowArgument(nameof(sums), $"Sums has room for {sums.Length} rows; {rows} are needed.");
        }

        FiniteCheck.ThrowIfNotFinite(activations, nameof(activations));
        for (int r = 0; r < rows; r++)
        {
            scales[r] = QuantizeActivationRow(activations.Slice(r * rowLength, rowLength), codes.Slice(r * rowLength, rowLength), out sums[r]);
        }
    }

    private static float QuantizeActivationRow(ReadOnlySpan<float> x, Span<sbyte> q, out int sum)
    {
        // max(1e-5, max|x|) in double: the float maximum converts exactly, so it can be found in float lanes.
        double max = Math.Max(0.00001, Math.Abs((double)TensorPrimitives.MaxMagnitude(x)));
        float s = (float)(127.0 / max);

        // |x·s| ≤ 127·(1 + 2⁻²³), so nearest_int never leaves [−127, 127]: the clamps of the C code never act, and
        // NearestCodeOp's min with 127 is the only one kept (it changes nothing either).
        var op = new NearestCodeOp(s, 127);
        sum = 0;
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref sbyte qr = ref MemoryMarshal.GetReference(q);
            for (; i <= x.Length - Block32.Size; i += Block32.Size)
            {
                Block32.Codes(ref Unsafe.Add(ref xr, i), op, out Vector128<byte> lo, out Vector128<byte> hi);
                lo.AsSByte().StoreUnsafe(ref qr, (nuint)i);
                hi.AsSByte().StoreUnsafe(ref qr, (nuint)(i + 16));
                sum += Block32.Sum(lo) + Block32.Sum(hi);
            }
        }

        for (; i < x.Length; i++)
        {
            int v = Math.Clamp(Rounding.NearestInt(x[i] * s), -128, 127);
            sum += v;
            q[i] = (sbyte)v;
        }

        return s;
    }
}
