using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ4_NL kernels, identical in bytes and floats to <see cref="IQ4_NLReference"/>.</summary>
internal readonly struct IQ4_NLKernel : IFastKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.IQ4_NL;

    /// <remarks>One vector lane per 32-value block, each replaying the scalar search (<see cref="Iq4Lanes"/>).</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<IQ4_NLKernel>(x, destination, importance))
        {
            IQ4_NLReference.QuantizeRow(x, destination, importance);
        }
    }

    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec> =>
        Iq4Lanes.QuantizeRowNL<TVec>(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockIQ4_NL> x = MemoryMarshal.Cast<byte, BlockIQ4_NL>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            Iq4Search.Dequantize32(in x[i].Qs[0], Fp16.ToSingle(x[i].D), ref Unsafe.Add(ref yr, i * 32));
        }
    }
}
