using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_XS × Q8_K (<c>ggml_vec_dot_iq2_xs_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_XSDot : IIq2Blocks<IQ2_XSDot, BlockIQ2_XS>
{
    public static QuantType WeightType => QuantType.IQ2_XS;

    public static int BlockBytes => BlockIQ2_XS.Size;

    public static ushort D(in BlockIQ2_XS x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_XS x, int g) => IqGrids.Iq2Xs[x.Code(g) & 511];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_XS x, int g) => IqGrids.SignPatterns[x.Code(g) >> 9];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_XS x, int h) => (x.Scales[h >> 1] >> (4 * (h & 1))) & 0xF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubBlockGrid(ref readonly BlockIQ2_XS x, nuint ib, int k) =>
        Unsafe.Add(ref MemoryMarshal.GetReference(IqGrids.Iq2Xs), Code(in x, ib, k) & 511);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubBlockSignMask(ref readonly BlockIQ2_XS x, nuint ib, int k) => Iq2SignMasks.OfCode(Code(in x, ib, k) >> 9);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SubBlockMultiplier(ref readonly BlockIQ2_XS x, nuint ib, int h) =>
        2 * ((Unsafe.Add(ref Unsafe.As<Bytes8, byte>(ref Unsafe.AsRef(in x.Scales)), ib) >> (4 * h)) & 0xF) + 1;

    /// <summary>Group 4·ib + k's code: grid index | sign code &lt;&lt; 9.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Code(ref readonly BlockIQ2_XS x, nuint ib, int k) =>
        Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref Unsafe.As<Bytes64, byte>(ref Unsafe.AsRef(in x.Qs)), 8 * ib + 2 * (nuint)k));
}
