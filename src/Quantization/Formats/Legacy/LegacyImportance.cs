using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantization.Kernels;

/// <summary>How one legacy format searches and stores an importance-weighted 32-value block.</summary>
internal interface ILegacyImportanceFormat
{
    /// <summary>Bytes per block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>nmax of the search (8 / 16 for make_qx_quants, 15 / 31 for make_qkx3_quants).</summary>
    static abstract int Nmax { get; }

    /// <summary>true for type-1 formats (make_qkx3_quants, a min), false for type-0 (make_qx_quants).</summary>
    static abstract bool Affine { get; }

    /// <summary>Stores one block from the search's scale, min (the positive, subtracted value; 0 for type-0) and codes.</summary>
    static abstract void Pack(Span<byte> block, float d, float theMin, ReadOnlySpan<byte> L);
}

/// <summary>
/// The importance-weighted legacy quantizers (<c>quantize_row_q4_0_impl</c> and siblings), lane-parallel: a vector of
/// blocks runs the scale search side by side, each lane replaying the scalar reference exactly.
/// </summary>
internal static class LegacyImportance
{
    private const int Qk = 32;
    private const int MaxLanes = 16;

    /// <summary>Quantizes one row with the widest accelerated vector; false when none is (the caller runs the reference).</summary>
    public static bool TryQuantizeRow<TFormat>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TFormat : ILegacyImportanceFormat =>
        LaneDispatch.TryQuantizeRow<Lanes<TFormat>>(x, destination, importance);

    /// <summary>
    /// Quantizes one row with the widest accelerated vector, or by <typeparamref name="TReference"/>'s reference where none
    /// is (a direct call on a process without Vector128 hardware); true, as <see cref="IBlockCodec{TBlock}.QuantizeWeighted"/> returns.
    /// </summary>
    public static bool QuantizeRowOrReference<TFormat, TReference>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TFormat : ILegacyImportanceFormat
        where TReference : IRowReference
    {
        if (!TryQuantizeRow<TFormat>(x, destination, importance))
        {
            TReference.QuantizeRow(x, destination, importance);
        }

        return true;
    }

    private readonly struct Lanes<TFormat> : ILaneQuantizer where TFormat : ILegacyImportanceFormat
    {
        public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
            where TVec : struct, ISimdFloat<TVec> =>
            QuantizeRow<TVec, TFormat>(x, destination, importance);
    }

    private static void QuantizeRow<TVec, TFormat>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
        where TFormat : ILegacyImportanceFormat
    {
        int c = TVec.Count;
        int nb = x.Length / Qk;
        float sigma2 = QuantSearch.RowSigma2(x);
        Span<float> xt = stackalloc float[Qk * MaxLanes];
        Span<float> wt = stackalloc float[Qk * MaxLanes];
        Span<float> lt = stackalloc float[Qk * MaxLanes];
        Span<float> laux = stackalloc float[Qk * MaxLanes];
        Span<float> d = stackalloc float[MaxLanes];
        Span<float> mins = stackalloc float[MaxLanes];
        Span<byte> L = stackalloc byte[Qk];
        ref float xr = ref MemoryMarshal.GetReference(xt);
        ref float wr = ref MemoryMarshal.GetReference(wt);
        ref float lr = ref MemoryMarshal.GetReference(lt);

        for (int ib0 = 0; ib0 < nb; ib0 += c)
        {
            int lanes = Math.Min(c, nb - ib0);
            xt.Clear();
            wt.Clear();
            for (int k = 0; k < lanes; k++)
            {
                ReadOnlySpan<float> xb = x.Slice((ib0 + k) * Qk, Qk);
                ReadOnlySpan<float> qw = importance.Slice((ib0 + k) * Qk, Qk);
                for (int i = 0; i < Qk; i++)
                {
                    xt[i * c + k] = xb[i];
                    wt[i * c + k] = qw[i];
                }
            }

            // w = qw·sqrt(σ² + x²), as the reference computes it.
            TVec s2 = TVec.Create(sigma2);
            for (int i = 0; i < Qk; i++)
            {
                TVec xi = TVec.Load(in Unsafe.Add(ref xr, i * c));
                ref float wi = ref Unsafe.Add(ref wr, i * c);
                TVec.Store(TVec.Load(in wi) * TVec.Sqrt(s2 + xi * xi), ref wi);
            }

            TVec theMin = TVec.Create(0);
            TVec scale = TFormat.Affine
                ? LaneSearch.MakeQkx3Quants(Qk, TFormat.Nmax, in xr, in wr, ref lr, ref MemoryMarshal.GetReference(laux), -0.9f, 0.05f, 36, out theMin)
                : LaneSearch.MakeQxQuants<TVec>(Qk, TFormat.Nmax, in xr, in wr, ref lr, ref MemoryMarshal.GetReference(laux));
            TVec.Store(scale, ref MemoryMarshal.GetReference(d));
            TVec.Store(theMin, ref MemoryMarshal.GetReference(mins));

            for (int k = 0; k < lanes; k++)
            {
                for (int i = 0; i < Qk; i++)
                {
                    L[i] = (byte)lt[i * c + k];
                }

                TFormat.Pack(destination.Slice((ib0 + k) * TFormat.BlockBytes, TFormat.BlockBytes), d[k], mins[k], L);
            }
        }
    }
}
