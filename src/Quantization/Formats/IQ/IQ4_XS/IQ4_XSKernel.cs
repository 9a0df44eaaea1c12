using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>IQ4_XS kernels, identical in bytes and floats to <see cref="IQ4_XSReference"/>.</summary>
internal readonly struct IQ4_XSKernel : IFastKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.IQ4_XS;

    /// <remarks>One vector lane per 32-value block, each replaying the scalar search (<see cref="Iq4Lanes"/>).</remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<IQ4_XSKernel>(x, destination, importance))
        {
            IQ4_XSReference.QuantizeRow(x, destination, importance);
        }
    }

    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec> =>
        Iq4Lanes.QuantizeRowXS<TVec>(x, destination, importance);

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<BlockIQ4_XS> x = MemoryMarshal.Cast<byte, BlockIQ4_XS>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(x[i].D);
            for (int ib = 0; ib < BlockIQ4_XS.SubBlocks; ++ib)
            {
                float dl = d * (x[i].Scale(ib) - 32);
                Iq4Search.Dequantize32(in x[i].Qs[16 * ib], dl, ref Unsafe.Add(ref yr, i * IQ4_XSReference.SuperBlockSize + ib * 32));
            }
        }
    }
}
