using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantization.Kernels;

/// <summary>A format's scalar reference (a port of ggml's C) as a type, for code generic over it.</summary>
internal interface IRowReference
{
    static abstract void QuantizeRow(ReadOnlySpan<float> row, Span<byte> destination, ReadOnlySpan<float> importance);

    static abstract void Dequantize(ReadOnlySpan<byte> source, Span<float> destination);
}

/// <summary>One block format's fast path, one block at a time, for <see cref="BlockKernel{TCodec, TBlock}"/>.</summary>
internal interface IBlockCodec<TBlock>
    where TBlock : unmanaged
{
    static abstract QuantType Type { get; }

    /// <summary>Values per block.</summary>
    static abstract int BlockValues { get; }

    static abstract void QuantizeBlock(ref float x, ref TBlock y);

    static abstract void DequantizeBlock(ref readonly TBlock x, ref float y);

    /// <summary>
    /// Quantizes a row by its (non-empty) importance weights and returns true; false, the default, for a format that
    /// ignores them, whose row then goes block by block.
    /// </summary>
    static virtual bool QuantizeWeighted(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) => false;
}

/// <summary>
/// The <see cref="IFastKernel"/> of a block format, written once: a kernel derives from this with its block steps
/// (<typeparamref name="TCodec"/>, a struct, so each format gets its own row loops with the steps inlined). The interface
/// is implemented here, not by the derived kernel: a derived implementation would be a compiler-made forwarder, one more
/// inlining level that costs the JIT's budget the inlining of the block step's helpers (Q4_1 quantization ran at half speed).
/// </summary>
internal abstract class BlockKernel<TCodec, TBlock> : IFastKernel
    where TCodec : struct, IBlockCodec<TBlock>
    where TBlock : unmanaged
{
    public static QuantType Type => TCodec.Type;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!importance.IsEmpty && TCodec.QuantizeWeighted(x, destination, importance))
        {
            return;
        }

        Span<TBlock> y = MemoryMarshal.Cast<byte, TBlock>(destination);
        ref float xr = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length / TCodec.BlockValues; i++)
        {
            TCodec.QuantizeBlock(ref Unsafe.Add(ref xr, i * TCodec.BlockValues), ref y[i]);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<TBlock> x = MemoryMarshal.Cast<byte, TBlock>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            TCodec.DequantizeBlock(in x[i], ref Unsafe.Add(ref yr, i * TCodec.BlockValues));
        }
    }
}
