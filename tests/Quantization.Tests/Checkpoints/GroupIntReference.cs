using Quantization.Tests.Support;

namespace Quantization.Tests.Checkpoints;

/// <summary>
/// A naive GPTQ/AWQ-style asymmetric quantizer for fixtures: per (output, group) the range widened to include 0,
/// scale = (max − min) / (2^bits − 1) rounded to F16, zero = round(−min / scale) clamped to 1 … 2^bits − 1 (so that the
/// v1 format's zero − 1 stays in range), code = clamp(round(w / scale) + zero); dequantized as (code − zero) · scale.
/// </summary>
internal sealed class GroupIntReference
{
    public required int Bits { get; init; }

    public required int In { get; init; }

    public required int Out { get; init; }

    public required int Groups { get; init; }

    /// <summary>The group of each input.</summary>
    public required int[] GIdx { get; init; }

    /// <summary>Codes [in, out] (the producers' transposed intweight).</summary>
    public required uint[] Codes { get; init; }

    /// <summary>Zero points [groups, out].</summary>
    public required int[] Zeros { get; init; }

    /// <summary>Scales [groups, out] as F16 bits.</summary>
    public required ushort[] Scales { get; init; }

    /// <summary>Dequantized [out, in].</summary>
    public required float[] Dequantized { get; init; }

    public static GroupIntReference Create(ulong seed, int bits, int inFeatures, int outFeatures, int groupSize, bool actOrder)
    {
        int group = groupSize == -1 ? inFeatures : groupSize;
        int groups = inFeatures / group;
        var rng = new TestRng(seed);
        float[] w = TestData.Gaussian(seed, inFeatures * outFeatures, 1.0); // [out, in]
        var gIdx = new int[inFeatures];
        int[] order = Enumerable.Range(0, inFeatures).ToArray();
        if (actOrder)
        {
            for (int i = inFeatures - 1; i > 0; i--)
            {
                int k = rng.NextInt(i + 1);
                (order[i], order[k]) = (order[k], order[i]);
            }
        }

        for (int k = 0; k < inFeatures; k++)
        {
            gIdx[order[k]] = k / group; // GPTQ's act order: the k-th input in quantization order falls in group k / group size
        }

        int maxq = (1 << bits) - 1;
        var scales = new ushort[groups * outFeatures];
        var zeros = new int[groups * outFeatures];
        var scaleValues = new float[groups * outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int g = 0; g < groups; g++)
            {
                float min = 0, max = 0;
                for (int i = 0; i < inFeatures; i++)
                {
                    if (gIdx[i] == g)
                    {
                        min = Math.Min(min, w[o * inFeatures + i]);
                        max = Math.Max(max, w[o * inFeatures + i]);
                    }
                }

                Half scale = (Half)((max - min) / maxq);
                float s = (float)scale;
                scales[g * outFeatures + o] = BitConverter.HalfToUInt16Bits(scale);
                scaleValues[g * outFeatures + o] = s;
                zeros[g * outFeatures + o] = Math.Clamp((int)MathF.Round(-min / s), 1, maxq);
            }
        }

        var codes = new uint[inFeatures * outFeatures];
        var dequantized = new float[outFeatures * inFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int i = 0; i < inFeatures; i++)
            {
                int k = gIdx[i] * outFeatures + o;
                int q = Math.Clamp((int)MathF.Round(w[o * inFeatures + i] / scaleValues[k]) + zeros[k], 0, maxq);
                codes[i * outFeatures + o] = (uint)q;
                dequantized[o * inFeatures + i] = (q - zeros[k]) * scaleValues[k];
            }
        }

        return new GroupIntReference
        {
            Bits = bits, In = inFeatures, Out = outFeatures, Groups = groups, GIdx = gIdx, Codes = codes, Zeros = zeros,
            Scales = scales, Dequantized = dequantized,
        };
    }

    public static byte[] Bytes(uint[] words)
    {
        var bytes = new byte[words.Length * 4];
        for (int k = 0; k < words.Length; k++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(k * 4), words[k]);
        }

        return bytes;
    }

    public static byte[] Bytes(int[] values) => Bytes(Array.ConvertAll(values, v => (uint)v));

    public static byte[] Bytes(ushort[] halves)
    {
        var bytes = new byte[halves.Length * 2];
        for (int k = 0; k < halves.Length; k++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(k * 2), halves[k]);
        }

        return bytes;
    }

    /// <summary>Checks y ≈ W·x against a double-precision product over <paramref name="w"/> ([rows, columns]).</summary>
    public static void AssertProduct(float[] w, int rows, int columns, float[] x, float[] y, int batch)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double sum = 0, magnitude = 0;
                for (int c = 0; c < columns; c++)
                {
                    double p = (double)w[r * columns + c] * x[b * columns + c];
                    sum += p;
                    magnitude += Math.Abs(p);
                }

                double error = Math.Abs(y[b * rows + r] - sum);
                Assert.True(error <= 1e-5 * magnitude + 1e-30, $"batch {b} row {r}: {y[b * rows + r]} vs {sum} (|error| {error}, Σ|w·x| {magnitude})");
            }
        }
    }

    /// <summary>
    /// Whether the layers' <c>MatVec</c> quantizes the activations to 8 bits: 4- and 8-bit groups of a multiple of 32 inputs on
    /// processors with AVX2 (docs/formats.md#checkpoint-layouts).
    /// </summary>
    public static bool QuantizesActivations(int bits, int groupLength) =>
        System.Runtime.Intrinsics.X86.Avx2.IsSupported && bits is 4 or 8 && groupLength % 32 == 0;

    /// <summary>
    /// The activations as the 8-bit product sees them, d · q per input: chunks of 32 consecutive columns of the layer's
    /// column order (<paramref name="columnOrder"/>: the inputs sorted by group, or null for the identity), d = max |x| / 127
    /// over the chunk, q = x / d rounded to nearest, ties to even.
    /// </summary>
    public static double[] EightBitActivations(float[] x, int columns, int[]? columnOrder)
    {
        var result = new double[x.Length];
        for (int b = 0; b < x.Length / columns; b++)
        {
            for (int c = 0; c < columns; c += 32)
            {
                float amax = 0;
                for (int j = c; j < c + 32; j++)
                {
                    amax = Math.Max(amax, Math.Abs(x[b * columns + (columnOrder?[j] ?? j)]));
                }

                for (int j = c; j < c + 32; j++)
                {
                    int input = b * columns + (columnOrder?[j] ?? j);
                    result[input] = amax == 0 ? 0 : (double)(amax / 127) * Math.Round(x[input] * (127 / amax), MidpointRounding.ToEven);
                }
            }
        }

        return result;
    }

    /// <summary>The inputs sorted by group, stable: the column order of an activation-order layer.</summary>
    public static int[] ColumnOrder(int[] gIdx) => Enumerable.Range(0, gIdx.Length).OrderBy(i => gIdx[i]).ToArray();

    /// <summary>
    /// A product with 8-bit activations: equal to W · (d · q) up to float summation (1e-5 of Σ |w · d · q|), and within the
    /// activations' rounding of the float product (Σ |w| · d / 2 per chunk).
    /// </summary>
    public static void AssertEightBitProduct(float[] w, int rows, int columns, float[] x, float[] y, int batch, int[]? columnOrder)
    {
        double[] xq = EightBitActivations(x, columns, columnOrder);
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double sum = 0, magnitude = 0, exact = 0, bound = 0;
                for (int c = 0; c < columns; c++)
                {
                    double weight = w[r * columns + c];
                    double p = weight * xq[b * columns + c];
                    sum += p;
                    magnitude += Math.Abs(p);
                    exact += weight * x[b * columns + c];
                    bound += Math.Abs(weight * (x[b * columns + c] - xq[b * columns + c]));
                }

                double actual = y[b * rows + r];
                Assert.True(Math.Abs(actual - sum) <= 1e-5 * magnitude + 1e-30, $"batch {b} row {r}: {actual} vs {sum} with 8-bit activations (Σ|w·x| {magnitude})");
                Assert.True(Math.Abs(actual - exact) <= bound + 1e-5 * magnitude + 1e-30, $"batch {b} row {r}: {actual} vs the float product {exact}, beyond the activations' rounding {bound}");
            }
        }
    }

    /// <summary><see cref="AssertEightBitProduct"/> where the layer's <c>MatVec</c> quantizes activations, else <see cref="AssertProduct"/>.</summary>
    public static void AssertFastProduct(GroupIntReference reference, int groupLength, float[] x, float[] y, int batch)
    {
        if (QuantizesActivations(reference.Bits, groupLength))
        {
            AssertEightBitProduct(reference.Dequantized, reference.Out, reference.In, x, y, batch, ColumnOrder(reference.GIdx));
        }
        else
        {
            AssertProduct(reference.Dequantized, reference.Out, reference.In, x, y, batch);
        }
    }
}
