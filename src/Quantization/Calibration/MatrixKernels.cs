using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantization.Calibration;

/// <summary>
/// The dense kernels of the calibration code: a multiply-accumulate C += A·B and a blocked Cholesky factorisation.
/// Every element of C receives its k terms one at a time in ascending k, as a separate multiply and add (no fused
/// multiply-add), so the result is the same at every vector width and for any split of the work across threads.
/// </summary>
internal static class MatrixKernels
{
    /// <summary>Columns of B kept hot in cache while every row of C passes over them.</summary>
    private const int ColumnTile = 256;

    /// <summary>
    /// C[i, j] += Σₖ A[i, k]·B[k, j] for i &lt; <paramref name="rows"/>, j &lt; <paramref name="columns"/>, k &lt;
    /// <paramref name="depth"/>, the k terms added in ascending order.
    /// </summary>
    public static void MultiplyAdd<T>(Span<T> c, int cStride, ReadOnlySpan<T> a, int aStride, ReadOnlySpan<T> b, int bStride,
                                      int rows, int depth, int columns)
        where T : unmanaged, INumber<T>
    {
        if (rows == 0 || depth == 0 || columns == 0)
        {
            return;
        }

        // B's tile is copied to a contiguous block first: its rows are far apart in memory (a page or more for large
        // matrices), and walking k down them for every strip of C would miss the TLB on most loads.
        int tile = Math.Min(ColumnTile, columns);
        T[] packedRent = ArrayPool<T>.Shared.Rent(depth * tile);
        try
        {
            Span<T> packed = packedRent.AsSpan(0, depth * tile);
            for (int j0 = 0; j0 < columns; j0 += ColumnTile)
            {
                int width = Math.Min(columns, j0 + ColumnTile) - j0;
                Pack(b, bStride, j0, width, depth, packed);
                Span<T> cTile = c[j0..];
                int i = 0;
                for (; i + 4 <= rows; i += 4)
                {
                    Strip4(cTile, cStride, a, aStride, packed, width, i, depth, 0, width);
                }

                for (; i < rows; i++)
                {
                    Strip1(cTile, cStride, a, aStride, packed, width, i, depth, 0, width);
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(packedRent);
        }
    }

    /// <summary>packed[k·width + j] = b[k·bStride + j0 + j].</summary>
    private static void Pack<T>(ReadOnlySpan<T> b, int bStride, int j0, int width, int depth, Span<T> packed)
    {
        for (int k = 0; k < depth; k++)
        {
            b.Slice(k * bStride + j0, width).CopyTo(packed.Slice(k * width, width));
        }
    }

    /// <summary>Rows i..i+3 of C over columns [j0, j1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Strip4<T>(Span<T> c, int cStride, ReadOnlySpan<T> a, int aStride, ReadOnlySpan<T> b, int bStride,
                                  int i, int depth, int j0, int j1)
        where T : unmanaged, INumber<T>
    {
        ref T c0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), (nint)i * cStride);
        ref T c1 = ref Unsafe.Add(ref c0, cStride);
        ref T c2 = ref Unsafe.Add(ref c1, cStride);
        ref T c3 = ref Unsafe.Add(ref c2, cStride);
        ref T a0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), (nint)i * aStride);
        ref T a1 = ref Unsafe.Add(ref a0, aStride);
        ref T a2 = ref Unsafe.Add(ref a1, aStride);
        ref T a3 = ref Unsafe.Add(ref a2, aStride);
        ref T b0 = ref MemoryMarshal.GetReference(b);
        int w = Vector<T>.Count;
        int j = j0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; j + 2 * w <= j1; j += 2 * w)
            {
                Vector<T> s00 = LoadAt(ref c0, j), s01 = LoadAt(ref c0, j + w);
                Vector<T> s10 = LoadAt(ref c1, j), s11 = LoadAt(ref c1, j + w);
                Vector<T> s20 = LoadAt(ref c2, j), s21 = LoadAt(ref c2, j + w);
                Vector<T> s30 = LoadAt(ref c3, j), s31 = LoadAt(ref c3, j + w);
                ref T bk = ref Unsafe.Add(ref b0, j);
                for (int k = 0; k < depth; k++)
                {
                    Vector<T> u0 = Vector.LoadUnsafe(ref bk);
                    Vector<T> u1 = Vector.LoadUnsafe(ref bk, (nuint)w);
                    var e0 = new Vector<T>(Unsafe.Add(ref a0, k));
                    var e1 = new Vector<T>(Unsafe.Add(ref a1, k));
                    var e2 = new Vector<T>(Unsafe.Add(ref a2, k));
                    var e3 = new Vector<T>(Unsafe.Add(ref a3, k));
                    s00 += e0 * u0;
                    s01 += e0 * u1;
                    s10 += e1 * u0;
                    s11 += e1 * u1;
                    s20 += e2 * u0;
                    s21 += e2 * u1;
                    s30 += e3 * u0;
                    s31 += e3 * u1;
                    bk = ref Unsafe.Add(ref bk, bStride);
                }

                StoreAt(s00, ref c0, j);
                StoreAt(s01, ref c0, j + w);
                StoreAt(s10, ref c1, j);
                StoreAt(s11, ref c1, j + w);
                StoreAt(s20, ref c2, j);
                StoreAt(s21, ref c2, j + w);
                StoreAt(s30, ref c3, j);
                StoreAt(s31, ref c3, j + w);
            }
        }

        for (; j < j1; j++)
        {
            T s0 = Unsafe.Add(ref c0, j), s1 = Unsafe.Add(ref c1, j), s2 = Unsafe.Add(ref c2, j), s3 = Unsafe.Add(ref c3, j);
            ref T bk = ref Unsafe.Add(ref b0, j);
            for (int k = 0; k < depth; k++)
            {
                T u = bk;
                s0 += Unsafe.Add(ref a0, k) * u;
                s1 += Unsafe.Add(ref a1, k) * u;
                s2 += Unsafe.Add(ref a2, k) * u;
                s3 += Unsafe.Add(ref a3, k) * u;
                bk = ref Unsafe.Add(ref bk, bStride);
            }

            Unsafe.Add(ref c0, j) = s0;
            Unsafe.Add(ref c1, j) = s1;
            Unsafe.Add(ref c2, j) = s2;
            Unsafe.Add(ref c3, j) = s3;
        }
    }

    /// <summary>Row i of C over columns [j0, j1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Strip1<T>(Span<T> c, int cStride, ReadOnlySpan<T> a, int aStride, ReadOnlySpan<T> b, int bStride,
                                  int i, int depth, int j0, int j1)
        where T : unmanaged, INumber<T>
    {
        ref T c0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), (nint)i * cStride);
        ref T a0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(a), (nint)i * aStride);
        ref T b0 = ref MemoryMarshal.GetReference(b);
        int w = Vector<T>.Count;
        int j = j0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; j + w <= j1; j += w)
            {
                Vector<T> s = LoadAt(ref c0, j);
                ref T bk = ref Unsafe.Add(ref b0, j);
                for (int k = 0; k < depth; k++)
                {
                    s += new Vector<T>(Unsafe.Add(ref a0, k)) * Vector.LoadUnsafe(ref bk);
                    bk = ref Unsafe.Add(ref bk, bStride);
                }

                StoreAt(s, ref c0, j);
            }
        }

        for (; j < j1; j++)
        {
            T s = Unsafe.Add(ref c0, j);
            ref T bk = ref Unsafe.Add(ref b0, j);
            for (int k = 0; k < depth; k++)
            {
                s += Unsafe.Add(ref a0, k) * bk;
                bk = ref Unsafe.Add(ref bk, bStride);
            }

            Unsafe.Add(ref c0, j) = s;
        }
    }

    /// <summary>y[j] += alpha·x[j], element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaled(Span<float> y, ReadOnlySpan<float> x, float alpha)
    {
        int n = y.Length;
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float xr = ref MemoryMarshal.GetReference(x);
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<float>(alpha);
            for (; j + Vector<float>.Count <= n; j += Vector<float>.Count)
            {
                (LoadAt(ref yr, j) + va * LoadAt(ref xr, j)).StoreUnsafe(ref yr, (nuint)j);
            }
        }

        for (; j < n; j++)
        {
            Unsafe.Add(ref yr, j) += alpha * Unsafe.Add(ref xr, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> LoadAt<T>(ref T r, int j) where T : unmanaged => Vector.LoadUnsafe(ref r, (nuint)j);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreAt<T>(Vector<T> v, ref T r, int j) where T : unmanaged => v.StoreUnsafe(ref r, (nuint)j);

    /// <summary>Columns factored together before their product updates the rest of the matrix.</summary>
    private const int Panel = 64;

    /// <summary>
    /// Factors the symmetric matrix whose lower triangle <paramref name="a"/> holds (n × n, row-major) in place into
    /// L with A = L·Lᵀ (lower triangle; the upper triangle is scratch). Every element receives its updates in ascending
    /// k. Returns false, leaving <paramref name="a"/> partly factored, when a pivot is not finite or not above 10⁻¹⁰ of
    /// its diagonal element before the factorisation (a column that is, to rounding, a combination of earlier ones).
    /// </summary>
    public static bool Cholesky(Span<double> a, int n, Span<double> panelScratch, int maxDegreeOfParallelism, CancellationToken cancellationToken)
    {
        double[] minPivot = ArrayPool<double>.Shared.Rent(n);
        try
        {
            for (int k = 0; k < n; k++)
            {
                minPivot[k] = 1e-10 * a[k * n + k];
            }

            return Factor(a, n, panelScratch, minPivot, maxDegreeOfParallelism, cancellationToken);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(minPivot);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Factor(Span<double> a, int n, Span<double> panelScratch, double[] minPivot, int maxDegreeOfParallelism, CancellationToken cancellationToken)
    {
        for (int p0 = 0; p0 < n; p0 += Panel)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int p1 = Math.Min(n, p0 + Panel);
            int width = p1 - p0;
            // The panel row by row (each row of A read once per panel): element (i, j) receives L[i, k]·L[j, k] for
            // k = p0 … j − 1 in order and is then divided by L[j, j], exactly as the column-by-column form would.
            for (int i = p0; i < n; i++)
            {
                ref double rowI = ref a[i * n];
                int jEnd = Math.Min(i + 1, p1);
                for (int j = p0; j < jEnd; j++)
                {
                    ref double rowJ = ref a[j * n];
                    double value = Unsafe.Add(ref rowI, j);
                    for (int k = p0; k < j; k++)
                    {
                        value -= Unsafe.Add(ref rowI, k) * Unsafe.Add(ref rowJ, k);
                    }

                    if (j == i)
                    {
                        if (!(value > minPivot[i]) || !(value > 0) || !double.IsFinite(value))
                        {
                            return false;
                        }

                        value = Math.Sqrt(value);
                    }
                    else
                    {
                        value /= Unsafe.Add(ref rowJ, j);
                    }

                    Unsafe.Add(ref rowI, j) = value;
                }
            }

            int rest = n - p1;
            if (rest == 0)
            {
                break;
            }

            // Bᵀ of the panel, negated, so the trailing update is one MultiplyAdd: A[i, j] += Σₖ L[i, k]·(−L[j, k]).
            Span<double> negT = panelScratch[..(width * rest)];
            for (int k = 0; k < width; k++)
            {
                for (int j = 0; j < rest; j++)
                {
                    negT[k * rest + j] = -a[(p1 + j) * n + p0 + k];
                }
            }

            TrailingUpdate(a, n, p0, p1, negT, maxDegreeOfParallelism);
        }

        return true;
    }

    private static unsafe void TrailingUpdate(Span<double> a, int n, int p0, int p1, ReadOnlySpan<double> negT, int maxDegreeOfParallelism)
    {
        int rest = n - p1;
        int tiles = (rest + ColumnTile - 1) / ColumnTile;
        int threads = Math.Min(tiles, maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism);
        fixed (double* ap = a)
        fixed (double* tp = negT)
        {
            var work = new TrailingTiles((nint)ap, n, p0, p1, (nint)tp);
            if (threads <= 1)
            {
                for (int t = 0; t < tiles; t++)
                {
                    work.Run(t);
                }
            }
            else
            {
                Parallel.For(0, tiles, new ParallelOptions { MaxDegreeOfParallelism = threads }, work.Run);
            }
        }
    }

    /// <summary>One column tile of the trailing update; only the rows at or below the tile's first column are touched.</summary>
    private sealed unsafe class TrailingTiles(nint a, int n, int p0, int p1, nint negT)
    {
        public void Run(int tile)
        {
            int rest = n - p1;
            int width = p1 - p0;
            var all = new Span<double>((double*)a, n * n);
            var bt = new ReadOnlySpan<double>((double*)negT, width * rest);
            int j0 = tile * ColumnTile;
            int j1 = Math.Min(rest, j0 + ColumnTile);
            int tileWidth = j1 - j0;
            double[] packedRent = ArrayPool<double>.Shared.Rent(width * tileWidth);
            try
            {
                Span<double> packed = packedRent.AsSpan(0, width * tileWidth);
                Pack(bt, rest, j0, tileWidth, width, packed);

                // Only the rows at or below the tile's first column hold lower-triangle elements of it.
                for (int i0 = j0; i0 < rest; i0 += 4)
                {
                    int count = Math.Min(4, rest - i0);
                    int jEnd = Math.Min(tileWidth, i0 + count - j0);
                    Span<double> c = all[((p1 + i0) * n + p1 + j0)..];
                    ReadOnlySpan<double> rowsOfL = all[((p1 + i0) * n + p0)..];
                    if (count == 4)
                    {
                        Strip4<double>(c, n, rowsOfL, n, packed, tileWidth, 0, width, 0, jEnd);
                    }
                    else
                    {
                        for (int r = 0; r < count; r++)
                        {
                            Strip1<double>(c, n, rowsOfL, n, packed, tileWidth, r, width, 0, Math.Min(tileWidth, i0 + r + 1 - j0));
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(packedRent);
            }
        }
    }
}
