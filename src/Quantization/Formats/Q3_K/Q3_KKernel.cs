using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q3_K kernels, identical in bytes and floats to <see cref="Q3_KReference"/>.</summary>
internal readonly struct Q3_KKernel : IQuantKernel, ILaneQuantizer
{
    public static QuantType Type => QuantType.Q3_K;

    public static void QuantizeRow(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
    {
        if (!LaneDispatch.TryQuantizeRow<Q3_KKernel>(x, destination, importance))
        {
            Q3_KReference.QuantizeRow(x, destination, importance);
        }
    }

    /// <summary>
    /// The 16 sub-block searches run lane-parallel (make_q3_quants, each lane replaying the scalar sequence exactly),
    /// Count super-blocks at a time; the tail uses the reference's scale encoding and vectorised requantization and packing.
    /// </summary>
    /// <remarks>
    /// About four sub-blocks in five converge in make_q3_quants' first sweep, but a vector sweeps until its slowest
    /// lane is done. So every vector runs the first pass and one sweep, and the lanes that changed in it move to a
    /// pool whose full vectors run the remaining sweeps: far fewer lane-sweeps for the same per-lane sequence.
    /// </remarks>
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportanceLanes<TVec>(x, destination, importance);
            return;
        }

        const int MaxLanes = 16;
        int c = TVec.Count;
        Span<BlockQ3_K> y = MemoryMarshal.Cast<byte, BlockQ3_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> w = stackalloc float[256];
        Span<float> wx = stackalloc float[256];
        Span<float> lanes = stackalloc float[MaxLanes * 3];
        Span<float> codes = stackalloc float[256 * MaxLanes];
        Span<float> scales = stackalloc float[16 * MaxLanes];
        Span<sbyte> L = stackalloc sbyte[256];
        var pool = new Q3SweepPool(stackalloc float[Q3SweepPool.FloatsPerLane * 2 * MaxLanes], stackalloc int[2 * MaxLanes], c);
        TVec allLanes = TVec.NotEquals(TVec.Create(0), TVec.Create(1));
        int nb = x.Length / 256;
        for (int i0 = 0; i0 < nb; i0 += c)
        {
            int blocks = Math.Min(c, nb - i0);
            ReadOnlySpan<float> xc = x.Slice(256 * i0, 256 * blocks);
            for (int b = 0; b < blocks; ++b)
            {
                for (int g = 0; g < 16; g += c)
                {
                    LaneSearch.Transpose16(xc.Slice(256 * b + 16 * g, 16 * c), c, xt);
                    ref float lg = ref codes[256 * b + 16 * g];
                    TVec allZero = LaneSearch.Q3Start(16, 4, in xt[0], ref lg, ref w[0], ref wx[0], out TVec sumlx, out TVec suml2);
                    TVec survivors = LaneSearch.Q3Sweeps(16, 4, in xt[0], in w[0], in wx[0], ref lg, ref sumlx, ref suml2,
                                                             TVec.Select(allZero, TVec.Create(0), allLanes), 1);
                    if (TVec.AnyTrue(survivors))
                    {
                        TVec.Store(survivors, ref lanes[0]);
                        TVec.Store(sumlx, ref lanes[c]);
                        TVec.Store(suml2, ref lanes[2 * c]);
                        for (int k = 0; k < c; ++k)
                        {
                            if (BitConverter.SingleToInt32Bits(lanes[k]) != 0)
                            {
                                pool.Add(xt, w, wx, MemoryMarshal.CreateReadOnlySpan(in lg, 16 * c), k, lanes[c + k], lanes[2 * c + k], 16 * b + g + k);
                            }
                        }

                    }

                    // Every lane's result as if it had converged; a pooled lane's is overwritten when its pool vector runs.
                    TVec.Store(LaneSearch.Q3Finish(16, 4, ref lg, allZero, sumlx, suml2), ref scales[16 * b + g]);
                    if (pool.Count >= c)
                    {
                        pool.Run<TVec>(codes, scales);
                    }
                }
            }

            if (pool.Count > 0)
            {
                pool.Run<TVec>(codes, scales);
            }

            for (int b = 0; b < blocks; ++b)
            {
                ref BlockQ3_K block = ref y[i0 + b];
                EncodeReferenceScales(scales.Slice(16 * b, 16), ref block);
                FinishVector(xc.Slice(256 * b, 256), ref block, L, codes.Slice(256 * b, 256), c);
            }
        }
    }

    /// <summary>
    /// The importance path, Count super-blocks at a time: their Σx² chains interleaved, the sub-block searches
    /// (make_qx_quants(16, 4) under the sigma² weights) lane-parallel per super-block, then the scale step
    /// (make_qx_quants(16, 32) over the 16 scales under the sub-block weight sums) with one super-block per lane.
    /// </summary>
    private static void QuantizeRowImportanceLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        const int MaxLanes = 16;
        int c = TVec.Count;
        Span<BlockQ3_K> y = MemoryMarshal.Cast<byte, BlockQ3_K>(destination);
        Span<float> xt = stackalloc float[256];
        Span<float> wt = stackalloc float[256];
        Span<float> w = stackalloc float[256];
        Span<float> scratch = stackalloc float[256];
        Span<float> sumx2 = stackalloc float[MaxLanes];
        Span<float> scales = stackalloc float[16 * MaxLanes];
        Span<float> sw = stackalloc float[16 * MaxLanes];
        Span<float> firstPass = stackalloc float[256 * MaxLanes];
        Span<float> codes = stackalloc float[16 * MaxLanes];
        Span<float> dBlock = stackalloc float[MaxLanes];
        Span<sbyte> L = stackalloc sbyte[256];
        int nb = x.Length / 256;
        for (int i0 = 0; i0 < nb; i0 += c)
        {
            int blocks = Math.Min(c, nb - i0);
            ReadOnlySpan<float> xc = x.Slice(256 * i0, 256 * blocks);
            ElementWise.SumSquaresPerBlock(xc, 256, sumx2);
            for (int b = 0; b < blocks; ++b)
            {
                ReadOnlySpan<float> xb = xc.Slice(256 * b, 256);
                ElementWise.ImportanceWeights(xb, importance.Slice(256 * (i0 + b), 256), 2 * sumx2[b] / 256, w);
                for (int g = 0; g < 16; g += c)
                {
                    LaneSearch.Transpose16(xb.Slice(16 * g, 16 * c), c, xt);
                    LaneSearch.Transpose16(w.Slice(16 * g, 16 * c), c, wt);
                    TVec.Store(LaneSearch.SumElements<TVec>(16, in wt[0]), ref sw[16 * b + g]);
                    TVec.Store(LaneSearch.MakeQxQuants<TVec>(16, 4, in xt[0], in wt[0], ref firstPass[256 * b + 16 * g], ref scratch[0]), ref scales[16 * b + g]);
                }
            }

            // Lanes without a super-block search all-zero scales and are ignored.
            scales[(16 * blocks)..(16 * c)].Clear();
            sw[(16 * blocks)..(16 * c)].Clear();
            LaneSearch.Transpose16(scales, c, xt);
            LaneSearch.Transpose16(sw, c, wt);
            TVec.Store(LaneSearch.MakeQxQuants<TVec>(16, 32, in xt[0], in wt[0], ref codes[0], ref scratch[0]), ref dBlock[0]);
            for (int b = 0; b < blocks; ++b)
            {
                ref BlockQ3_K block = ref y[i0 + b];
                Span<byte> packed = block.Scales;
                packed.Clear();
                for (int j = 0; j < 16; ++j)
                {
                    BlockQ3_K.SetScale(packed, j, (int)codes[j * c + b]);
                }

                block.D = Fp16.FromSingle(dBlock[b]);
                FinishVector(xc.Slice(256 * b, 256), ref block, L, firstPass.Slice(256 * b, 256), c);
            }
        }
    }

    /// <summary>
    /// <see cref="Q3_KReference.EncodeReferenceScales"/> with the codes 4 scales per step, l = clamp((sbyte)nearest_int(−32/max · s),
    /// −32, 31) + 32 by the same bit trick (exact for any product), and the 6-bit packing (low nibbles of 0..7 and 8..15,
    /// then the 2-bit high parts) in 64-bit words.
    /// </summary>
    private static void EncodeReferenceScales(ReadOnlySpan<float> scales, ref BlockQ3_K b)
    {
        float maxScale = 0;
        float amax = 0;
        for (int j = 0; j < 16; ++j)
        {
            float scale = MathF.Abs(scales[j]);
            if (scale > amax)
            {
                amax = scale;
                maxScale = scales[j];
            }
        }

        if (maxScale == 0)
        {
            ((Span<byte>)b.Scales).Clear();
            b.D = Fp16.FromSingle(0f);
            return;
        }

        ref float sr = ref MemoryMarshal.GetReference(scales);
        Vector128<float> s0 = Vector128.LoadUnsafe(ref sr), s1 = Vector128.LoadUnsafe(ref sr, 4);
        Vector128<float> s2 = Vector128.LoadUnsafe(ref sr, 8), s3 = Vector128.LoadUnsafe(ref sr, 12);
        float iscale = -32f / maxScale;
        Vector128<float> iv = Vector128.Create(iscale);
        Vector128<byte> l = Vector128.Narrow(Vector128.Narrow(Code(s0 * iv), Code(s1 * iv)), Vector128.Narrow(Code(s2 * iv), Code(s3 * iv))).AsByte();
        ulong a = l.AsUInt64().ToScalar(), c = l.AsUInt64().GetElement(1);
        ulong nibbles = (a & 0x0F0F0F0F0F0F0F0FUL) | ((c & 0x0F0F0F0F0F0F0F0FUL) << 4);
        ulong ha = (a >> 4) & 0x0303030303030303UL, hc = (c >> 4) & 0x0303030303030303UL;
        uint high = (uint)ha | ((uint)(ha >> 32) << 2) | ((uint)hc << 4) | ((uint)(hc >> 32) << 6);
        Span<byte> packed = b.Scales;
        MemoryMarshal.Write(packed, nibbles);
        MemoryMarshal.Write(packed[8..], high);
        b.D = Fp16.FromSingle(1 / iscale);

        static Vector128<int> Code(Vector128<float> v)
        {
            Vector128<int> n = ((v + Vector128.Create(12582912f)).AsInt32() & Vector128.Create(0x007FFFFF)) - Vector128.Create(0x00400000);
            n = Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(n, 24), 24); // the int8_t ggml keeps it in
            return Vector128.Min(Vector128.Max(n, Vector128.Create(-32)), Vector128.Create(31)) + Vector128.Create(32);
        }
    }

    /// <summary>
    /// The reference's Finish: each sub-block requantized with its final scale (a sub-block with d == 0 keeps its
    /// first-pass codes, read from the search's lane layout <paramref name="firstPass"/>), then hmask bits and low
    /// bit pairs 16 codes per step.
    /// </summary>
    private static void FinishVector(ReadOnlySpan<float> xb, ref BlockQ3_K b, Span<sbyte> L, ReadOnlySpan<float> firstPass, int lanes)
    {
        float dAll = Fp16.ToSingle(b.D);
        ref float xr = ref MemoryMarshal.GetReference(xb);
        ref byte lr = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(L));
        ReadOnlySpan<byte> packed = b.Scales;
        for (int j = 0; j < 16; ++j)
        {
            float d = dAll * BlockQ3_K.GetScale(packed, j);
            if (d == 0)
            {
                SubBlockCodes.FirstPass16(firstPass, lanes, j, MemoryMarshal.AsBytes(L.Slice(16 * j, 16)));
            }
            else
            {
                SubBlockCodes.Requantize16(ref Unsafe.Add(ref xr, 16 * j), d, 0, hasMin: false, offset: 4, top: 7, ref Unsafe.Add(ref lr, 16 * j));
            }
        }

        Vector128<byte> one = Vector128.Create((byte)1);
        Vector128<byte> three = Vector128.Create((byte)3);
        for (int h = 0; h < 32; h += 16)
        {
            Vector128<byte> hm = Vector128<byte>.Zero;
            for (int n = 0; n < 2; n++)
            {
                Vector128<byte> q = Vector128<byte>.Zero;
                for (int s = 0; s < 4; s++)
                {
                    int k = 4 * n + s;
                    Vector128<byte> c = Vector128.LoadUnsafe(ref lr, (nuint)(32 * k + h));
                    hm |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(c, 2) & one, k);
                    q |= Vector128.ShiftLeft(c & three, 2 * s);
                }

                q.StoreUnsafe(ref b.Qs[32 * n + h]);
            }

            hm.StoreUnsafe(ref b.Hmask[h]);
        }
    }


    public static void QuantizeRowReference(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance) =>
        Q3_KReference.QuantizeRow(x, destination, importance);

    /// <summary>16 values per step: low bit pair plus hmask bit gives q + 4 (0..7), then (q + 4 − 4)·dl.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!Vector128.IsHardwareAccelerated)
        {
            Q3_KReference.Dequantize(source, destination);
            return;
        }

        ReadOnlySpan<BlockQ3_K> x = MemoryMarshal.Cast<byte, BlockQ3_K>(source);
        ref float yr = ref MemoryMarshal.GetReference(destination);
        Vector128<byte> three = Vector128.Create((byte)3);
        Vector128<byte> one = Vector128.Create((byte)1);
        for (int i = 0; i < x.Length; i++)
        {
            ref readonly BlockQ3_K b = ref x[i];
            float dAll = Fp16.ToSingle(b.D);
            ReadOnlySpan<byte> scales = b.Scales;
            Vector128<byte> h0 = Vector128.LoadUnsafe(in b.Hmask[0]);
            Vector128<byte> h1 = Vector128.LoadUnsafe(in b.Hmask[16]);
            ref float yb = ref Unsafe.Add(ref yr, i * 256);
            for (int n = 0; n < 2; n++)
            {
                Vector128<byte> q0 = Vector128.LoadUnsafe(in b.Qs[32 * n]);
                Vector128<byte> q1 = Vector128.LoadUnsafe(in b.Qs[32 * n + 16]);
                for (int s = 0; s < 4; s++)
                {
                    int k = 8 * n + 2 * s;
                    int bit = 4 * n + s;
                    ref float ys = ref Unsafe.Add(ref yb, 128 * n + 32 * s);
                    Vector128<byte> c0 = (Vector128.ShiftRightLogical(q0, 2 * s) & three) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h0, bit) & one, 2);
                    Vector128<byte> c1 = (Vector128.ShiftRightLogical(q1, 2 * s) & three) | Vector128.ShiftLeft(Vector128.ShiftRightLogical(h1, bit) & one, 2);
                    Block32.Values16(c0.AsSByte(), new ScaleValueOp(4, dAll * BlockQ3_K.GetScale(scales, k)), ref ys);
                    Block32.Values16(c1.AsSByte(), new ScaleValueOp(4, dAll * BlockQ3_K.GetScale(scales, k + 1)), ref Unsafe.Add(ref ys, 16));
                }
            }
        }
    }

    public static void DequantizeReference(ReadOnlySpan<byte> source, Span<float> destination) =>
        Q3_KReference.Dequantize(source, destination);
}

/// <summary>
/// Sub-blocks of a chunk of Q3_K super-blocks that still change after make_q3_quants' first sweep, gathered lane by
/// lane into full vectors for the remaining sweeps. Each lane keeps its x, w, w·x and codes (transposed, element e of
/// lane k at [e·Count + k]), its sums and where it came from; <see cref="Run"/> sweeps the first vector's lanes and
/// writes their codes and scales back.
/// </summary>
internal ref struct Q3SweepPool
{
    /// <summary>Floats per pooled lane: 16 each of x, w, w·x and codes, then sumlx and suml2.</summary>
    public const int FloatsPerLane = 4 * 16 + 2;

    private readonly Span<float> _data;
    private readonly Span<int> _origin;
    private readonly int _lanes;

    public Q3SweepPool(Span<float> data, Span<int> origin, int lanes)
    {
        _data = data;
        _origin = origin;
        _lanes = lanes;
    }

    public int Count { get; private set; }

    // Vector v's block: x, w, w·x, codes (16·lanes each), then sumlx, suml2 (lanes each).
    private readonly Span<float> Block(int v) => _data.Slice(v * FloatsPerLane * _lanes, FloatsPerLane * _lanes);

    /// <summary>Adds lane <paramref name="k"/> of a searched group (its first-sweep codes in <paramref name="codes"/>, still offset-free).</summary>
    public void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> wx, ReadOnlySpan<float> codes, int k,
                    float sumlx, float suml2, int subBlock)
    {
        int c = _lanes;
        Span<float> block = Block(Count / c);
        int p = Count % c;
        for (int e = 0; e < 16; ++e)
        {
            block[e * c + p] = x[e * c + k];
            block[16 * c + e * c + p] = w[e * c + k];
            block[32 * c + e * c + p] = wx[e * c + k];
            block[48 * c + e * c + p] = codes[e * c + k];
        }

        block[64 * c + p] = sumlx;
        block[65 * c + p] = suml2;
        _origin[Count] = subBlock;
        Count++;
    }

    /// <summary>
    /// Runs the remaining sweeps (at most four) on the first vector's lanes (Count of them if fewer than a vector;
    /// the rest are inert), writes each lane's final codes (+ 4) to its place in <paramref name="codes"/> (sub-block j
    /// of super-block b: group g = j − j mod Count at [256·b + 16·g + e·Count + j mod Count]) and its scale to
    /// <paramref name="scales"/>[16·b + j], then moves the second vector's lanes to the front.
    /// </summary>
    public void Run<TVec>(Span<float> codes, Span<float> scales)
        where TVec : struct, ISimdFloat<TVec>
    {
        int c = _lanes;
        int n = Math.Min(Count, c);
        Span<float> block = Block(0);
        Span<float> mask = stackalloc float[16];
        for (int k = 0; k < c; ++k)
        {
            mask[k] = k < n ? BitConverter.Int32BitsToSingle(-1) : 0f;
            if (k >= n)
            {
                for (int a = 0; a < 4; ++a)
                {
                    for (int e = 0; e < 16; ++e)
                    {
                        block[16 * a * c + e * c + k] = 0;
                    }
                }

                block[64 * c + k] = 0;
                block[65 * c + k] = 0;
            }
        }

        TVec sumlx = TVec.Load(in block[64 * c]);
        TVec suml2 = TVec.Load(in block[65 * c]);
        ref float l = ref block[48 * c];
        LaneSearch.Q3Sweeps(16, 4, in block[0], in block[16 * c], in block[32 * c], ref l, ref sumlx, ref suml2, TVec.Load(in mask[0]), 4);
        TVec.Store(LaneSearch.Q3Finish(16, 4, ref l, TVec.GreaterThan(TVec.Create(0), TVec.Create(1)), sumlx, suml2), ref mask[0]);
        for (int p = 0; p < n; ++p)
        {
            int j = _origin[p] % 16, b = _origin[p] / 16;
            int k = j % c;
            Span<float> target = codes.Slice(256 * b + 16 * (j - k));
            for (int e = 0; e < 16; ++e)
            {
                target[e * c + k] = block[48 * c + e * c + p];
            }

            scales[16 * b + j] = mask[p];
        }

        Count -= n;
        if (Count > 0)
        {
            Block(1).CopyTo(block);
            _origin.Slice(c, Count).CopyTo(_origin);
        }
    }
}

