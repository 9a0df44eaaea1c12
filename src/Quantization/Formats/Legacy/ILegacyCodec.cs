using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// The block codec of a 32-value legacy format with ggml's importance search (Q4_0, Q4_1, Q5_0, Q5_1): the row with
/// importance goes through <see cref="LegacyImportance"/> with <typeparamref name="TImportance"/>'s parameters, or
/// <typeparamref name="TReference"/>'s reference where no vector width is accelerated.
/// </summary>
internal interface ILegacyCodec<TBlock, TImportance, TReference> : IBlockCodec<TBlock>
    where TBlock : unmanaged
    where TImportance : ILegacyImportanceFormat
    where TReference : IRowReference
{
    static int IBlockCodec<TBlock>.BlockValues => 32;

    static bool IBlockCodec<TBlock>.QuantizeWeighted(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        LegacyImportance.QuantizeRowOrReference<TImportance, TReference>(x, destination, importance);
}
