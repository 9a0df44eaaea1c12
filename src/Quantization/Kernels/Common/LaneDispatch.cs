namespace Quantization.Kernels;

/// <summary>
/// A quantizer written once over <see cref="ISimdFloat{TSelf}"/>: one block (or sub-block) per vector lane.
/// Implement it on structs only: from shared generic code (a reference-type argument) the call of this static generic
/// method needs a runtime lookup that NativeAOT's compiler cannot build ("VTable ... not computed by the IL scanner").
/// </summary>
internal interface ILaneQuantizer
{
    static abstract void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>;
}

/// <summary>Runs a lane-parallel quantizer at the widest vector width the JIT accelerates.</summary>
internal static class LaneDispatch
{
    /// <summary>Quantizes one row with Vector512, Vector256 or Vector128 lanes; false when none is accelerated.</summary>
    public static bool TryQuantizeRow<TQuantizer>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TQuantizer : struct, ILaneQuantizer
    {
        if (SimdFloat512.IsSupported)
        {
            TQuantizer.QuantizeRowLanes<SimdFloat512>(x, destination, importance);
        }
        else if (SimdFloat256.IsSupported)
        {
            TQuantizer.QuantizeRowLanes<SimdFloat256>(x, destination, importance);
        }
        else if (SimdFloat128.IsSupported)
        {
            TQuantizer.QuantizeRowLanes<SimdFloat128>(x, destination, importance);
        }
        else
        {
            return false;
        }

        return true;
    }
}
