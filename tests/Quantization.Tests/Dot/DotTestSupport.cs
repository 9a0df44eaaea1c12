using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Kernels.Dot;
using Quantization.Oracle;
using Quantization.Tests.Support;

namespace Quantization.Tests.Dot;

/// <summary>Per-path entry points of the 32-value dot kernels, weights and activations for the dot tests.</summary>
internal static class DotTestSupport
{
    public delegate void IntegerSumsFn(DotPath path, ReadOnlySpan<byte> w, ReadOnlySpan<byte> a, int n, Span<int> sums);

    public delegate float DotOnFn(DotPath path, ReadOnlySpan<byte> w, ReadOnlySpan<byte> a, int n);

    public delegate void DotRowsOnFn(DotPath path, ReadOnlySpan<byte> w, int rowBytes, ReadOnlySpan<byte> a, int n, Span<float> results);

    public sealed record Paths(Func<DotPath, bool> IsSupported, IntegerSumsFn IntegerSums, DotOnFn DotOn, DotRowsOnFn DotRowsOn, bool HasMin);

    public static Paths? For(QuantType type) => type switch
    {
        QuantType.Q4_0 => Of<Q4_0Weights>(),
        QuantType.Q4_1 => Of<Q4_1Weights>(),
        QuantType.Q5_0 => Of<Q5_0Weights>(),
        QuantType.Q5_1 => Of<Q5_1Weights>(),
        QuantType.Q8_0 => Of<Q8_0Weights>(),
        QuantType.IQ4_NL => Of<IQ4_NLWeights>(),
        QuantType.MXFP4 => Of<MXFP4Weights>(),
        _ => null,
    };

    private static Paths Of<T>() where T : IBlock32Weights =>
        new(Block32Dot<T>.IsSupported, Block32Dot<T>.IntegerSums, Block32Dot<T>.DotOn, Block32Dot<T>.DotRowsOn, T.HasMin);

    public static TheoryData<QuantType> DotTypes()
    {
        var data = new TheoryData<QuantType>();
        foreach (DotEntry e in DotRegistry.All)
        {
            data.Add(e.WeightType);
        }

        return data;
    }

    public static TheoryData<QuantType> Block32DotTypes()
    {
        var data = new TheoryData<QuantType>();
        foreach (DotEntry e in DotRegistry.All)
        {
            if (For(e.WeightType) is not null)
            {
                data.Add(e.WeightType);
            }
        }

        return data;
    }

    public static byte[] Quantize(QuantType type, float[] values, int rowLength)
    {
        var q = new byte[Quantizer.GetByteCount(type, values.Length)];
        Quantizer.Quantize(type, values, q, rowLength, RequiredImportance(type, rowLength));
        return q;
    }

    /// <summary>Importance for a format that cannot quantize without it (IQ2_XXS, IQ2_XS), otherwise none.</summary>
    public static float[]? RequiredImportance(QuantType type, int rowLength) =>
        FormatRegistry.TryGet(type)!.Importance == ImportanceUse.Required
            ? TestData.Importance(5, rowLength, withZeros: false)
            : null;

    public static float[] Dequantize(QuantType type, byte[] q)
    {
        QuantFormat f = QuantFormat.Get(type);
        var v = new float[(q.Length - f.TrailerBytes) / f.BytesPerBlock * f.BlockSize];
        Quantizer.Dequantize(type, q, v);
        return v;
    }

    /// <summary>Activation bytes the way the library quantizes them (the activation format's vector quantizer).</summary>
    public static byte[] Activations(DotEntry dot, float[] x)
    {
        var a = new byte[Quantizer.GetByteCount(dot.ActivationType, x.Length)];
        KernelRegistry.TryGet(dot.ActivationType)!.Quantize!(x, a, default);
        return a;
    }

    /// <summary>ggml's <c>ggml_vec_dot_&lt;w&gt;_&lt;a&gt;</c> with nrc = 1 on the same bytes.</summary>
    public static unsafe float GgmlDot(DotEntry dot, ReadOnlySpan<byte> w, ReadOnlySpan<byte> a, int n)
    {
        string name = "ggml_vec_dot_" + GgmlNative.TypeName((int)dot.WeightType) + "_" + GgmlNative.TypeName((int)dot.ActivationType);
        var fn = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)GgmlNative.CpuExport(name);
        float s = 0;
        fixed (byte* wp = w)
        fixed (byte* ap = a)
        {
            fn(n, &s, 0, wp, 0, ap, 0, 1);
        }

        return s;
    }

    /// <summary>
    /// The tolerance of a float result whose integer parts are exact and whose float terms are added in another order:
    /// (terms + 2)·2⁻²³·A, with 8 lane terms and one min term per block (the first-order bound of recursive summation,
    /// doubled). A bounds Σ|term|: Σ|wⱼ·aⱼ| over the dequantized values, plus for type-1 formats Σ|m|·|aⱼ| + Σ|m·s| per
    /// block (|d·q| ≤ |w| + |m|).
    /// </summary>
    public static double SummationBound(QuantType type, ReadOnlySpan<byte> wBytes, float[] w, int offset, ReadOnlySpan<byte> aBytes, float[] a, int n)
    {
        QuantFormat wf = QuantFormat.Get(type);
        bool hasMin = type is QuantType.Q4_1 or QuantType.Q5_1;
        double abs = 0;
        for (int j = 0; j < n; j++)
        {
            abs += Math.Abs((double)w[offset + j] * a[j]);
        }

        if (hasMin)
        {
            for (int b = 0; b < n / 32; b++)
            {
                double m = Math.Abs((double)Half(wBytes, b * wf.BytesPerBlock + 2));
                double s = Math.Abs((double)Half(aBytes, b * 36 + 2));
                abs += m * s;
                for (int j = 0; j < 32; j++)
                {
                    abs += m * Math.Abs(a[b * 32 + j]);
                }
            }
        }

        // A float weight format (block size 1) has one term per value: n rounded additions at most.
        int terms = wf.BlockSize == 1 ? n : n / 32 * 9;
        return (terms + 2) * Math.Pow(2, -23) * abs + 1e-30;
    }

    public static void AssertBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                        $"{what}: [{i}] {actual[i]} vs {expected[i]}");
        }
    }

    public static float Half(ReadOnlySpan<byte> bytes, int offset) =>
        (float)BitConverter.UInt16BitsToHalf(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes[offset..]));
}
