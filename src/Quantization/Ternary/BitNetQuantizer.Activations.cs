using Quantization.Formats;
using Quantization.Kernels;

namespace Quantization.Ternary;

public static partial class BitNetQuantizer
{
    /// <summary>
    /// Quantizes activations per token (per row) to int8 as bitnet.cpp's CPU inference does (<c>quantize_row_i8_s</c>):
    /// <c>max = max(1e-5, max|x|)</c> in double, <c>s = (float)(127 / max)</c>, <c>q = clamp(nearest_int(x·s), −128, 127)</c>
    /// with x·s a float32 product rounded half to even; it also returns Σq per row, which the ternary dot product
    /// subtracts to turn the unsigned codes {0, 1, 2} back into {−1, 0, +1}. Each row gives the codes, s and Σq that
    /// <see cref="Quantizer.Quantize"/> writes for that row as one <see cref="QuantType.I8_S"/> tensor.
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
        float s = I8_SKernel.Scale(x);
        sum = I8_SKernel.Codes(x, s, q);
        return s;
    }
}
