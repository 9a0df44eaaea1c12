using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>
/// Vector dequantization of the IQ2 formats: per half sub-block db = d·(0.5 + s)·0.25, then db·grid·(±1) per value,
/// the reference's two float multiplies per value in its order (so NaN and infinite d give the same bits).
/// </summary>
internal static class Iq2Dequantize<TBlocks, TBlock>
    where TBlocks : IIq2Blocks<TBlocks, TBlock>
    where TBlock : unmanaged
{
    public static void Row(ReadOnlySpan<byte> source, Span<float> destination)
    {
        ReadOnlySpan<TBlock> x = MemoryMarshal.Cast<byte, TBlock>(source);
        ref float y = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < x.Length; i++)
        {
            float d = Fp16.ToSingle(TBlocks.D(in x[i]));
            for (int h = 0; h < 16; ++h)
            {
                float db = d * (0.5f + TBlocks.ScaleCode(in x[i], h)) * 0.25f;
                if (Vector512.IsHardwareAccelerated)
                {
                    Pair(in x[i], h, db, ref Unsafe.Add(ref y, 256 * i + 16 * h));
                    continue;
                }

                for (int g = 2 * h; g < 2 * h + 2; ++g)
                {
                    Group(TBlocks.Grid(in x[i], g), TBlocks.Signs(in x[i], g), db, ref Unsafe.Add(ref y, 256 * i + 8 * g));
                }
            }
        }
    }

    /// <summary>The 16 values of half <paramref name="h"/> (two groups sharing db) in one Vector512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair(in TBlock x, int h, float db, ref float y)
    {
        Vector512<byte> grid = Vector128.Create(TBlocks.Grid(in x, 2 * h), TBlocks.Grid(in x, 2 * h + 1)).ToVector256Unsafe().ToVector512Unsafe().AsByte();
        Vector512<sbyte> mask = Vector128.Create(Iq2Dot<TBlocks, TBlock>.SignMask(TBlocks.Signs(in x, 2 * h)), Iq2Dot<TBlocks, TBlock>.SignMask(TBlocks.Signs(in x, 2 * h + 1)))
            .ToVector256Unsafe().ToVector512Unsafe().AsSByte();
        Vector512<float> g = Vector512.ConvertToSingle(Vector512.WidenLower(Vector512.WidenLower(grid)).AsInt32());
        Vector512<int> m = Vector512.WidenLower(Vector512.WidenLower(mask));
        Vector512<float> sign = Vector512.ConditionalSelect(m.AsSingle(), Vector512.Create(-1f), Vector512.Create(1f));
        (Vector512.Create(db) * g * sign).StoreUnsafe(ref y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group(ulong grid, byte signs, float db, ref float y)
    {
        ulong mask = Iq2Dot<TBlocks, TBlock>.SignMask(signs);
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> g = Vector256.ConvertToSingle(Vector256.WidenLower(Vector256.WidenLower(Vector256.CreateScalar(grid).AsByte())).AsInt32());
            Vector256<int> m = Vector256.WidenLower(Vector256.WidenLower(Vector256.CreateScalar(mask).AsSByte()));
            Vector256<float> sign = Vector256.ConditionalSelect(m.AsSingle(), Vector256.Create(-1f), Vector256.Create(1f));
            (Vector256.Create(db) * g * sign).StoreUnsafe(ref y);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<ushort> g16 = Vector128.WidenLower(Vector128.CreateScalar(grid).AsByte());
            Vector128<short> m16 = Vector128.WidenLower(Vector128.CreateScalar(mask).AsSByte());
            Vector128<float> vdb = Vector128.Create(db);
            Vector128<float> lo = vdb * Vector128.ConvertToSingle(Vector128.WidenLower(g16).AsInt32());
            Vector128<float> hi = vdb * Vector128.ConvertToSingle(Vector128.WidenUpper(g16).AsInt32());
            Vector128<float> minus = Vector128.Create(-1f), plus = Vector128.Create(1f);
            (lo * Vector128.ConditionalSelect(Vector128.WidenLower(m16).AsSingle(), minus, plus)).StoreUnsafe(ref y);
            (hi * Vector128.ConditionalSelect(Vector128.WidenUpper(m16).AsSingle(), minus, plus)).StoreUnsafe(ref y, 4);
        }
        else
        {
            for (int j = 0; j < 8; ++j)
            {
                Unsafe.Add(ref y, j) = db * (byte)(grid >> (8 * j)) * ((signs & (1 << j)) != 0 ? -1f : 1f);
            }
        }
    }
}
