using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;
using Quantization.Kernels.Dot;

namespace Quantization.Formats;

/// <summary>IQ2_S × Q8_K (<c>ggml_vec_dot_iq2_s_q8_K</c>) through <see cref="Iq2Dot{TBlocks, TBlock}"/>.</summary>
internal readonly struct IQ2_SDot : IIq2Blocks<IQ2_SDot, BlockIQ2_S>
{
    public static QuantType WeightType => QuantType.IQ2_S;

    public static int BlockBytes => BlockIQ2_S.Size;

    public static ushort D(in BlockIQ2_S x) => x.D;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Grid(in BlockIQ2_S x, int g) => IqGrids.Iq2S[x.GridIndex(g)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Signs(in BlockIQ2_S x, int g) => x.Qs[32 + g];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ScaleCode(in BlockIQ2_S x, int h) => (x.Scales[h >> 1] >> (4 * (h & 1))) & 0xF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubBlockGrid(ref readonly BlockIQ2_S x, nuint ib, int k)
    {
        nuint low = Unsafe.Add(ref Qs(in x), 4 * ib + (nuint)k);
        nuint high = ((nuint)Unsafe.Add(ref Unsafe.As<Bytes8, byte>(ref Unsafe.AsRef(in x.Qh)), ib) << (8 - 2 * k)) & 0x300;
        return Unsafe.Add(ref MemoryMarshal.GetReference(IqGrids.Iq2S), low | high);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubBlockSignMask(ref readonly BlockIQ2_S x, nuint ib, int k) => Iq2SignMasks.Of(Unsafe.Add(ref Qs(in x), 32 + 4 * ib + (nuint)k));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SubBlockMultiplier(ref readonly BlockIQ2_S x, nuint ib, int h) =>
        2 * ((Unsafe.Add(ref Unsafe.As<Bytes8, byte>(ref Unsafe.AsRef(in x.Scales)), ib) >> (4 * h)) & 0xF) + 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte Qs(ref readonly BlockIQ2_S x) => ref Unsafe.As<Bytes64, byte>(ref Unsafe.AsRef(in x.Qs));
}
