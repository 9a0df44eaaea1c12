using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Kernels;

namespace Quantization.Formats;

/// <summary>Q3_K kernels, identical in bytes and floats to <see cref="Q3_KReference"/>.</summary>
internal readonly struct Q3_KKernel : IFastKernel, ILaneQuantizer
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
    /// The 16 sub-block searches run lane-parallel (make_q3_quants, each lane replaying the scalar sequence exactly);
    /// the tail uses the reference's scale encoding and vectorised requantization and packing.
    /// </summary>
    [SkipLocalsInit] // every scratch value is written before it is read; the pool clears its idle lanes
    public static void QuantizeRowLanes<TVec>(ReadOnlySpan<float> x, Span<byte> destination, ReadOnlySpan<float> importance)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (!importance.IsEmpty)
        {
            QuantizeRowImportanceLanes<TVec>(x, destination, importance);
            return;
        }

        // Most sub-blocks (about 80 % on weight-like data) end make_q3_quants' descent with one sweep without a change,
        // but a vector would sweep until its slowest lane is done (about three sweeps). So every lane only tests
        // whether its first sweep changes anything (Q3FirstSweepChanges, no chain), and the lanes where it does are
        // pooled into two vectors that run the whole descent together. Chunk super-blocks stay in flight for the
        // pool to fill.
        const int Chunk = 8;
        int c = TVec.Count;
        int gs = 16 * c;
        Span<BlockQ3_K> y = MemoryMarshal.Cast<byte, BlockQ3_K>(destination);
        // One 64-byte aligned scratch block: full-width loads and stores that straddle cache lines cost twice.
        var scratch = new ScratchCarver(stackalloc float[3 * 512 + 256 * Chunk + 256 + 16 * Chunk + 16 + 64 + 16 + 2 * 512 + 256 * Chunk + 96 + 16]);
        Span<float> xt = scratch.Take(512);
        Span<float> w = scratch.Take(512);
        Span<float> wx = scratch.Take(512);
        Span<float> codes = scratch.Take(256 * Chunk + 256); // + an all-zero group when 16 lanes pair an odd count
        Span<float> scales = scratch.Take(16 * Chunk + 16);
        Span<float> sums = scratch.Take(64);
        Span<float> subScales = scratch.Take(16);
        var pool = new SurvivorPool(scratch.Take(512), scratch.Take(512), scratch.Take(256 * Chunk), scratch.Take(96),
                                    stackalloc int[32], stackalloc int[16 * Chunk]);
        Span<sbyte> L = stackalloc sbyte[256];
        uint allLanes = (1u << c) - 1;
        int nb = x.Length / 256;
        for (int i = 0; i < nb; i += Chunk)
        {
            int blocks = Math.Min(Chunk, nb - i);
            ReadOnlySpan<float> xc = x.Slice(256 * i, 256 * blocks);
            pool.BeginChunk();
            for (int g = 0; g < 16 * blocks / c; g += 2)
            {
                int a = gs * g, b = a + gs;
                LaneSearch.Transpose16(xc.Slice(a, gs), c, xt);
                if (b < xc.Length)
                {
                    LaneSearch.Transpose16(xc.Slice(b, gs), c, xt[gs..]);
                }
                else
                {
                    xt.Slice(gs, gs).Clear();
                }

                TVec zeroA = LaneSearch.Q3Start(16, 4, in xt[0], ref codes[a], ref w[0], ref wx[0], out TVec sumlxA, out TVec suml2A);
                TVec zeroB = LaneSearch.Q3Start(16, 4, in xt[gs], ref codes[b], ref w[gs], ref wx[gs], out TVec sumlxB, out TVec suml2B);
                uint bitsA = LaneSearch.Q3FirstSweepChanges(16, 4, in xt[0], in w[0], in wx[0], in codes[a], sumlxA, suml2A, ~TVec.MaskBits(zeroA) & allLanes);
                uint bitsB = LaneSearch.Q3FirstSweepChanges(16, 4, in xt[gs], in w[gs], in wx[gs], in codes[b], sumlxB, suml2B, ~TVec.MaskBits(zeroB) & allLanes);
                if ((bitsA | bitsB) != 0)
                {
                    TVec.Store(sumlxA, ref sums[0]);
                    TVec.Store(suml2A, ref sums[c]);
                    TVec.Store(sumlxB, ref sums[2 * c]);
                    TVec.Store(suml2B, ref sums[3 * c]);
                }

                TVec.Store(LaneSearch.Q3Scale(zeroA, sumlxA, suml2A), ref scales[c * g]);
                TVec.Store(LaneSearch.Q3Scale(zeroB, sumlxB, suml2B), ref scales[c * (g + 1)]);
                for (; bitsA != 0; bitsA &= bitsA - 1)
                {
                    int k = BitOperations.TrailingZeroCount(bitsA);
                    pool.Add<TVec>(c * g + k, xc, codes, sums[k], sums[c + k], scales, xt, w, wx);
                }

                for (; bitsB != 0; bitsB &= bitsB - 1)
                {
                    int k = BitOperations.TrailingZeroCount(bitsB);
                    pool.Add<TVec>(c * (g + 1) + k, xc, codes, sums[2 * c + k], sums[3 * c + k], scales, xt, w, wx);
                }
            }

            pool.Flush<TVec>(scales, xt, w, wx);
            for (int k = 0; k < blocks; k++)
            {
                ref BlockQ3_K block = ref y[i + k];
                EncodeReferenceScales(scales.Slice(16 * k, 16), ref block, subScales);
                FinishVector(xc.Slice(256 * k, 256), ref block, L, subScales, codes.Slice(256 * k, 256), c, signedCodes: true, pool.PooledCodes, pool.Slots.Slice(16 * k, 16));
            }
        }
    }

    /// <summary>
    /// Sub-blocks whose make_q3_quants descent changes a code in its first sweep, with their state before it: the 16
    /// values, the codes, Σ w·x·l and Σ w·l². Two vectors of them run the descent (up to five sweeps) together; the
    /// scales go back to the chunk's scales, the final codes (signed) stay in the pool's lane layout (<see cref="PooledCodes"/>,
    /// pool slot <see cref="Slots"/>[s] for sub-block s of the chunk, −1 when not pooled), as only a sub-block whose
    /// final scale is zero reads them.
    /// </summary>
    private ref struct SurvivorPool(Span<float> rows, Span<float> codeRows, Span<float> codes, Span<float> sums, Span<int> subBlocks, Span<int> slots)
    {
        private readonly Span<float> _rows = rows, _codeRows = codeRows, _codes = codes, _sums = sums;
        private readonly Span<int> _subBlocks = subBlocks, _slots = slots;
        private int _count, _first;

        public readonly ReadOnlySpan<float> PooledCodes => _codes;

        public readonly ReadOnlySpan<int> Slots => _slots;

        public void BeginChunk()
        {
            _slots.Fill(-1);
            _first = 0;
        }

        /// <summary>Pools sub-block <paramref name="s"/>, its codes read from the chunk's lane layout; runs the pool when it is full.</summary>
        public void Add<TVec>(int s, ReadOnlySpan<float> xc, ReadOnlySpan<float> chunkCodes, float sumlx, float suml2, Span<float> scales,
                              Span<float> xt, Span<float> w, Span<float> wx)
            where TVec : struct, ISimdFloat<TVec>
        {
            int c = TVec.Count;
            int p = _count++;
            ref float xs = ref Unsafe.AsRef(in xc[16 * s]);
            ref float xd = ref _rows[16 * p];
            for (int e = 0; e < 16; e += 4)
            {
                Vector128.LoadUnsafe(ref xs, (nuint)e).StoreUnsafe(ref xd, (nuint)e);
            }

            ref float column = ref Unsafe.AsRef(in chunkCodes[16 * (s - s % c) + s % c]);
            ref float row = ref _codeRows[16 * p];
            if (Avx2.IsSupported && c >= 8)
            {
                unsafe
                {
                    // Stack memory: it does not move.
                    float* p0 = (float*)Unsafe.AsPointer(ref column);
                    Vector256<int> index = Vector256.CreateSequence(0, c);
                    Avx2.GatherVector256(p0, index, 4).StoreUnsafe(ref row);
                    Avx2.GatherVector256(p0 + 8 * c, index, 4).StoreUnsafe(ref row, 8);
                }
            }
            else
            {
                for (int e = 0; e < 16; e++)
                {
                    Unsafe.Add(ref row, e) = Unsafe.Add(ref column, e * c);
                }
            }

            _sums[p] = sumlx;
            _sums[32 + p] = suml2;
            _subBlocks[p] = s;
            if (_count == 2 * c)
            {
                Flush<TVec>(scales, xt, w, wx);
            }
        }

        /// <summary>Runs the descent of the pooled sub-blocks (scratch: <paramref name="xt"/>, <paramref name="w"/>, <paramref name="wx"/>) and writes their scales back.</summary>
        public void Flush<TVec>(Span<float> scales, Span<float> xt, Span<float> w, Span<float> wx)
            where TVec : struct, ISimdFloat<TVec>
        {
            int n = _count;
            if (n == 0)
            {
                return;
            }

            int c = TVec.Count;
            int gs = 16 * c;
            Span<float> codes = _codes.Slice(16 * _first, 2 * gs);
            if (n < 2 * c)
            {
                _rows[(16 * n)..(2 * gs)].Clear(); // idle lanes: all zero, never active
                _codeRows[(16 * n)..(2 * gs)].Clear();
                _sums[n..(2 * c)].Clear();
                _sums[(32 + n)..(32 + 2 * c)].Clear();
            }

            LaneSearch.Transpose16(_rows, c, xt);
            LaneSearch.Transpose16(_rows[gs..], c, xt[gs..]);
            LaneSearch.Transpose16(_codeRows, c, codes);
            LaneSearch.Transpose16(_codeRows[gs..], c, codes[gs..]);
            for (int j = 0; j < 2 * gs; j += c)
            {
                TVec xj = TVec.Load(in xt[j]);
                TVec wj = xj * xj;
                TVec.Store(wj, ref w[j]);
                TVec.Store(wj * xj, ref wx[j]);
            }

            TVec sumlxA = TVec.Load(in _sums[0]), sumlxB = TVec.Load(in _sums[c]);
            TVec suml2A = TVec.Load(in _sums[32]), suml2B = TVec.Load(in _sums[32 + c]);
            uint activeA = n >= c ? (1u << c) - 1 : (1u << n) - 1, activeB = n > c ? (1u << (n - c)) - 1 : 0;
            LaneSearch.Q3Sweeps(16, 4, in xt[0], in w[0], in wx[0], ref codes[0], ref sumlxA, ref suml2A, ref activeA,
                                ref sumlxB, ref suml2B, ref activeB, 5);
            TVec none = TVec.Create(0);
            TVec.Store(LaneSearch.Q3Scale(none, sumlxA, suml2A), ref _sums[64]);
            TVec.Store(LaneSearch.Q3Scale(none, sumlxB, suml2B), ref _sums[64 + c]);
            for (int p = 0; p < n; p++)
            {
                int s = _subBlocks[p];
                scales[s] = _sums[64 + p];
                _slots[s] = _first + p;
            }

            _first += 2 * c;
            _count = 0;
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
        Span<float> subScales = stackalloc float[16];
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
                float dAll = Fp16.ToSingle(block.D);
                for (int j = 0; j < 16; ++j)
                {
                    subScales[j] = dAll * ((int)codes[j * c + b] - 32);
                }

                FinishVector(xc.Slice(256 * b, 256), ref block, L, subScales, firstPass.Slice(256 * b, 256), c, signedCodes: false, default, default);
            }
        }
    }

    /// <summary>
    /// <see cref="Q3_KReference.EncodeReferenceScales"/> with the codes 4 scales per step, l = clamp((sbyte)nearest_int(−32/max · s),
    /// −32, 31) + 32 by the same bit trick (exact for any product), and the 6-bit packing (low nibbles of 0..7 and 8..15,
    /// then the 2-bit high parts) in 64-bit words.
    /// </summary>
    private static void EncodeReferenceScales(ReadOnlySpan<float> scales, ref BlockQ3_K b, Span<float> subScales)
    {
        ref float sr = ref MemoryMarshal.GetReference(scales);
        Vector128<float> s0 = Vector128.LoadUnsafe(ref sr), s1 = Vector128.LoadUnsafe(ref sr, 4);
        Vector128<float> s2 = Vector128.LoadUnsafe(ref sr, 8), s3 = Vector128.LoadUnsafe(ref sr, 12);

        // Q3_KReference.SignedMaxScale: the first scale of the largest magnitude (strict >, so a NaN never wins and
        // all-zero gives 0), as a vector maximum and the first lane that equals it.
        Vector128<float> a0 = Magnitude(s0), a1 = Magnitude(s1), a2 = Magnitude(s2), a3 = Magnitude(s3);
        Vector128<float> m = Vector128.MaxNative(Vector128.MaxNative(a0, a1), Vector128.MaxNative(a2, a3));
        m = Vector128.MaxNative(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.MaxNative(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        if (m.ToScalar() == 0)
        {
            ((Span<byte>)b.Scales).Clear();
            b.D = Fp16.FromSingle(0f);
            subScales.Clear();
            return;
        }

        uint first = Vector128.ExtractMostSignificantBits(Vector128.Equals(a0, m)) | (Vector128.ExtractMostSignificantBits(Vector128.Equals(a1, m)) << 4)
                     | (Vector128.ExtractMostSignificantBits(Vector128.Equals(a2, m)) << 8) | (Vector128.ExtractMostSignificantBits(Vector128.Equals(a3, m)) << 12);
        float maxScale = Unsafe.Add(ref sr, BitOperations.TrailingZeroCount(first));
        float iscale = -32f / maxScale;
        Vector128<float> iv = Vector128.Create(iscale);
        Vector128<int> l0 = Code(s0 * iv), l1 = Code(s1 * iv), l2 = Code(s2 * iv), l3 = Code(s3 * iv);
        Vector128<byte> l = Vector128.Narrow(Vector128.Narrow(l0, l1), Vector128.Narrow(l2, l3)).AsByte();
        ulong a = l.AsUInt64().ToScalar(), c = l.AsUInt64().GetElement(1);
        ulong nibbles = (a & 0x0F0F0F0F0F0F0F0FUL) | ((c & 0x0F0F0F0F0F0F0F0FUL) << 4);
        ulong ha = (a >> 4) & 0x0303030303030303UL, hc = (c >> 4) & 0x0303030303030303UL;
        uint high = (uint)ha | ((uint)(ha >> 32) << 2) | ((uint)hc << 4) | ((uint)(hc >> 32) << 6);
        Span<byte> packed = b.Scales;
        MemoryMarshal.Write(packed, nibbles);
        MemoryMarshal.Write(packed[8..], high);
        b.D = Fp16.FromSingle(1 / iscale);

        // The requantization scales, FP16(d)·(l − 32) as the reference computes them from the stored bytes.
        Vector128<float> dAll = Vector128.Create(Fp16.ToSingle(b.D));
        ref float dr = ref MemoryMarshal.GetReference(subScales);
        Vector128<int> bias = Vector128.Create(32);
        (dAll * Vector128.ConvertToSingle(l0 - bias)).StoreUnsafe(ref dr);
        (dAll * Vector128.ConvertToSingle(l1 - bias)).StoreUnsafe(ref dr, 4);
        (dAll * Vector128.ConvertToSingle(l2 - bias)).StoreUnsafe(ref dr, 8);
        (dAll * Vector128.ConvertToSingle(l3 - bias)).StoreUnsafe(ref dr, 12);

        static Vector128<float> Magnitude(Vector128<float> v) => Vector128.ConditionalSelect(Vector128.Equals(v, v), Vector128.Abs(v), Vector128<float>.Zero);

        static Vector128<int> Code(Vector128<float> v)
        {
            Vector128<int> n = ((v + Vector128.Create(12582912f)).AsInt32() & Vector128.Create(0x007FFFFF)) - Vector128.Create(0x00400000);
            n = Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(n, 24), 24); // the int8_t ggml keeps it in
            return Vector128.Min(Vector128.Max(n, Vector128.Create(-32)), Vector128.Create(31)) + Vector128.Create(32);
        }
    }

    /// <summary>
    /// The reference's Finish: each sub-block requantized with its final scale <paramref name="subScales"/>[j]
    /// (FP16(d)·scale; a sub-block with scale 0 keeps its first-pass codes, read from the search's lane layout
    /// <paramref name="firstPass"/> or, for a pooled sub-block, from the pool's; with <paramref name="signedCodes"/>
    /// they are make_q3_quants' codes before its + 4, and an all-zero sub-block's are 0), then hmask bits and low bit pairs.
    /// </summary>
    private static void FinishVector(ReadOnlySpan<float> xb, ref BlockQ3_K b, Span<sbyte> L, ReadOnlySpan<float> subScales, ReadOnlySpan<float> firstPass,
                                     int lanes, bool signedCodes, ReadOnlySpan<float> pooledCodes, ReadOnlySpan<int> slots)
    {
        ref float xr = ref MemoryMarshal.GetReference(xb);
        ref byte lr = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(L));
        for (int j = 0; j < 16; ++j)
        {
            float d = subScales[j];
            if (d == 0)
            {
                Span<byte> dst = MemoryMarshal.AsBytes(L.Slice(16 * j, 16));
                if (!signedCodes)
                {
                    SubBlockCodes.FirstPass(firstPass, lanes, j, dst);
                }
                else if (IsAllZero(xb.Slice(16 * j, 16)))
                {
                    dst.Clear(); // make_q3_quants' early return: every code 0
                }
                else
                {
                    SubBlockCodes.FirstPass(slots[j] >= 0 ? pooledCodes : firstPass, lanes, slots[j] >= 0 ? slots[j] : j, dst, offset: 4);
                }
            }
            else
            {
                SubBlockCodes.Requantize16(ref Unsafe.Add(ref xr, 16 * j), d, 0, hasMin: false, offset: 4, top: 7, ref Unsafe.Add(ref lr, 16 * j));
            }
        }

        static bool IsAllZero(ReadOnlySpan<float> x)
        {
            float amax = 0;
            foreach (float v in x)
            {
                amax = Math.Max(amax, Math.Abs(v));
            }

            return amax < QuantSearch.GroupMaxEps;
        }

        // Codes 32k .. 32k + 31 (0..7) give bit k of hmask[0..31] and bits 2s, 2s + 1 of qs[32n .. 32n + 31] (k = 4n + s).
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<byte> hm = Vector256<byte>.Zero;
            for (int n = 0; n < 2; n++)
            {
                Vector256<byte> q = Vector256<byte>.Zero;
                for (int s = 0; s < 4; s++)
                {
                    Vector256<byte> c = Vector256.LoadUnsafe(ref lr, (nuint)(32 * (4 * n + s)));
                    hm |= Vector256.ShiftLeft(Vector256.ShiftRightLogical(c, 2) & Vector256.Create((byte)1), 4 * n + s);
                    q |= Vector256.ShiftLeft(c & Vector256.Create((byte)3), 2 * s);
                }

                q.StoreUnsafe(ref b.Qs[32 * n]);
            }

            hm.StoreUnsafe(ref b.Hmask[0]);
            return;
        }

        for (int h = 0; h < 32; h += 16)
        {
            Vector128<byte> hm = Vector128<byte>.Zero;
            for (int n = 0; n < 2; n++)
            {
                Vector128<byte> q = Vector128<byte>.Zero;
                for (int s = 0; s < 4; s++)
                {
                    Vector128<byte> c = Vector128.LoadUnsafe(ref lr, (nuint)(32 * (4 * n + s) + h));
                    hm |= Vector128.ShiftLeft(Vector128.ShiftRightLogical(c, 2) & Vector128.Create((byte)1), 4 * n + s);
                    q |= Vector128.ShiftLeft(c & Vector128.Create((byte)3), 2 * s);
                }

                q.StoreUnsafe(ref b.Qs[32 * n + h]);
            }

            hm.StoreUnsafe(ref b.Hmask[h]);
        }
    }

    /// <summary>16 values per step: low bit pair plus hmask bit gives q + 4 (0..7), then (q + 4 − 4)·dl.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
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
}
