using System.Buffers;
using Quantization.Kernels;

namespace Quantization.Calibration;

/// <summary>
/// GPTQ: quantizes a weight matrix column by column and, after each column, moves its rounding error onto the columns
/// not yet quantized, in the proportions that minimise the layer's output error on the calibration inputs (the
/// Hessian XᵀX of <see cref="ActivationStatistics"/>). The result is in the target format's ordinary bytes, the same
/// layout as <see cref="Quantizer.Quantize"/>, so any reader of the format runs it unchanged. See docs/calibration.md.
/// </summary>
public static class Gptq
{
    private static readonly GptqOptions s_defaults = new();

    /// <summary>Rows one worker carries through all columns together (the lazy updates are a product over them).</summary>
    private const int PanelRows = 64;

    /// <summary>
    /// Quantizes <paramref name="weights"/> (<paramref name="rows"/> outputs × <paramref name="columns"/> inputs,
    /// row-major) to <paramref name="type"/>, writing the bytes <see cref="Quantizer.Quantize"/> would lay out for
    /// <c>rowLength: columns</c>.
    /// </summary>
    /// <param name="type">Any format <see cref="Quantizer.Quantize"/> supports, except those with a per-tensor trailer (I2_S).</param>
    /// <param name="weights">rows × columns finite values.</param>
    /// <param name="destination">At least <see cref="Quantizer.GetByteCount"/>(type, rows·columns) bytes.</param>
    /// <param name="rows">Output rows.</param>
    /// <param name="columns">Inputs per row; a multiple of the format's block size.</param>
    /// <param name="statistics">The inputs of this matrix seen during calibration, with <see cref="ActivationStatistics.Columns"/> equal to <paramref name="columns"/> and at least one row.</param>
    /// <param name="options">Damping, lazy batch size, threads, progress and cancellation; null for the defaults.</param>
    /// <exception cref="ArgumentException">A length or option is wrong, a weight is NaN or infinite, or the statistics do not fit.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="columns"/> is not positive, or the thread count is 0 or below −1.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be quantized, or has a per-tensor trailer.</exception>
    /// <exception cref="InvalidOperationException">The damped Hessian could not be factored even after the damping retries.</exception>
    /// <exception cref="OperationCanceledException">The options' token was canceled.</exception>
    public static void Quantize(QuantType type, ReadOnlySpan<float> weights, Span<byte> destination, int rows, int columns,
                                ActivationStatistics statistics, GptqOptions? options = null)
    {
        options ??= s_defaults;
        ArgumentNullException.ThrowIfNull(statistics);
        KernelEntry kernel = CalibrationArguments.Matrix(type, weights, rows, columns);
        QuantFormat format = kernel.Format;
        int threads = ValidateOptions(options);
        long byteCount = Quantizer.GetByteCount(type, (long)rows * columns);
        if (destination.Length < byteCount)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has {destination.Length} bytes; {byteCount} are needed.");
        }

        if (statistics.Columns != columns)
        {
            ThrowHelper.ThrowArgument(nameof(statistics), $"The statistics have {statistics.Columns} columns; the weights have {columns}.");
        }

        if (statistics.Count == 0)
        {
            ThrowHelper.ThrowArgument(nameof(statistics), "The statistics have seen no activation rows.");
        }

        FiniteCheck.ThrowIfNotFinite(weights, nameof(weights));
        CancellationToken token = options.CancellationToken;
        token.ThrowIfCancellationRequested();

        ElementCodes? codes = options.RoundElements ? ElementCodes.For(type) : null;
        // Coarse per-element formats (four levels or fewer) and the whole-block path compare each row with the plain result.
        Factorization f = Factor(statistics, options, threads, token, keepHessian: codes is null || codes.Levels <= 4,
                                 actOrderGroup: codes is null ? format.BlockSize == 1 ? columns : 0 : format.BlockSize);
        int lazy = Math.Max(format.BlockSize, (options.BlockSize + format.BlockSize - 1) / format.BlockSize * format.BlockSize);
        RunPanels(kernel, codes, weights, destination, rows, columns, lazy, f, threads, options.Progress, token);
    }

    /// <summary>Checks the options and returns the thread count they mean.</summary>
    private static int ValidateOptions(GptqOptions options)
    {
        int threads = CalibrationArguments.Threads(options.MaxDegreeOfParallelism);
        if (!double.IsFinite(options.Damping) || options.Damping < 0)
        {
            ThrowHelper.ThrowArgument(nameof(options), $"Damping {options.Damping} must be finite and not negative.");
        }

        if (options.BlockSize <= 0)
        {
            ThrowHelper.ThrowArgument(nameof(options), $"BlockSize {options.BlockSize} must be positive.");
        }

        if (options.MaxDampingRetries < 0)
        {
            ThrowHelper.ThrowArgument(nameof(options), $"MaxDampingRetries {options.MaxDampingRetries} must not be negative.");
        }

        return threads;
    }

    /// <summary>
    /// The quantities of the column loop, in processing order: V[s, t] (s &lt; t, row-major n × n) is how much of column
    /// s's error moves to column t; Importance is Σx² / count per column in storage order (dead columns get a tiny
    /// positive weight so the format's search stays defined); Order[t] is the column processed t-th.
    /// </summary>
    internal sealed class Factorization(float[] v, float[] importance, int[] order, double damping, float[]? hessian)
    {
        /// <summary>XᵀX in storage order (n × n, symmetric, undamped) when the whole-block path needs it to compare rows.</summary>
        public float[]? Hessian { get; } = hessian;

        public float[] V { get; } = v;
        public float[] Importance { get; } = importance;
        public int[] Order { get; } = order;
        public double Damping { get; } = damping;
    }

    /// <summary>
    /// Cholesky of the damped Hessian in reversed order gives H = Ũ·Ũᵀ with Ũ upper triangular. With the error of
    /// columns s &lt; t fixed, the loss's t-th term is Ũ[t,t]²·(w[t] + Σₛ (w[s] − q[s])·Ũ[s,t] / Ũ[t,t] − q[t])², so
    /// V = Ũ scaled by the inverse of its diagonal per column is the error feedback. This is the same rule as the
    /// usual formulation with the Cholesky factor of H⁻¹, without inverting anything.
    /// </summary>
    internal static Factorization Factor(ActivationStatistics statistics, GptqOptions options, int threads, CancellationToken token, bool keepHessian,
                                         int actOrderGroup = 0)
    {
        int n = statistics.Columns;
        var h = GC.AllocateUninitializedArray<double>(n * n);
        statistics.CopyLowerGram(h);
        MirrorLower(h, n);
        var diagonal = new double[n];
        double liveSum = 0;
        int live = 0;
        for (int i = 0; i < n; i++)
        {
            diagonal[i] = h[i * n + i];
            if (diagonal[i] > 0)
            {
                liveSum += diagonal[i];
                live++;
            }
        }

        // A column whose input was always zero cannot change the output: H[i, i] = 1 keeps the matrix invertible, and
        // its weight is still rounded (to whatever the block's search prefers) rather than zeroed.
        double liveMean = live == 0 ? 1 : liveSum / live;
        var importance = new float[n];
        double count = statistics.Count;
        for (int i = 0; i < n; i++)
        {
            bool dead = !(diagonal[i] > 0);
            if (dead)
            {
                diagonal[i] = 1;
            }

            // Clamped to float's range: activations near float's limit square to more than it holds.
            importance[i] = (float)Math.Min(float.MaxValue, dead ? 1e-6 * liveMean / count : diagonal[i] / count);
        }

        int[] order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        if (options.ActOrder && actOrderGroup > 0)
        {
            // Decreasing Σx² inside each group of columns (the whole row for one-value blocks, one format block for the
            // per-element path, whose block bytes hold each element's code at its own place), ties by index.
            Comparison<int> byImportance = (x, y) => diagonal[x] != diagonal[y] ? diagonal[y].CompareTo(diagonal[x]) : x.CompareTo(y);
            for (int g = 0; g < n; g += actOrderGroup)
            {
                Array.Sort(order, g, Math.Min(actOrderGroup, n - g), Comparer<int>.Create(byImportance));
            }
        }

        double mean = 0;
        for (int i = 0; i < n; i++)
        {
            mean += diagonal[i];
        }

        mean /= n;
        var a = GC.AllocateUninitializedArray<double>(n * n);
        var scratch = GC.AllocateUninitializedArray<double>(64 * n);
        double damping = options.Damping;
        for (int attempt = 0; ; attempt++)
        {
            token.ThrowIfCancellationRequested();
            double lambda = damping * mean;

            // A[a, b] = H[order[n−1−a], order[n−1−b]] (lower triangle), damped; h is symmetric by now, so a row of A
            // is a row of h read backwards.
            for (int r = 0; r < n; r++)
            {
                int x = order[n - 1 - r];
                for (int c = 0; c <= r; c++)
                {
                    a[r * n + c] = h[x * n + order[n - 1 - c]];
                }

                a[r * n + r] = diagonal[x] + lambda;
            }

            if (MatrixKernels.Cholesky(a, n, scratch, threads, token))
            {
                break;
            }

            if (attempt >= options.MaxDampingRetries)
            {
                throw new InvalidOperationException(
                    $"The Hessian could not be factored with damping up to {damping} of its mean diagonal; the activations may be degenerate.");
            }

            damping = damping == 0 ? 0.01 : damping * 10;
        }

        // V[s, t] = L[n−1−s, n−1−t] / L[n−1−t, n−1−t] for s < t.
        var v = GC.AllocateUninitializedArray<float>(n * n);
        for (int s = 0; s < n; s++)
        {
            int ls = n - 1 - s;
            for (int t = s + 1; t < n; t++)
            {
                int lt = n - 1 - t;
                v[s * n + t] = (float)(a[ls * n + lt] / a[lt * n + lt]);
            }
        }

        float[]? hessian = null;
        if (keepHessian)
        {
            hessian = GC.AllocateUninitializedArray<float>(n * n);
            for (int i = 0; i < n * n; i++)
            {
                hessian[i] = (float)h[i];
            }
        }

        return new Factorization(v, importance, order, damping, hessian);
    }

    /// <summary>Copies the lower triangle onto the upper one in square tiles, so both sides stay in cache.</summary>
    private static void MirrorLower(double[] h, int n)
    {
        const int tile = 64;
        for (int i0 = 0; i0 < n; i0 += tile)
        {
            for (int j0 = 0; j0 <= i0; j0 += tile)
            {
                int i1 = Math.Min(n, i0 + tile), j1 = Math.Min(n, j0 + tile);
                for (int i = i0; i < i1; i++)
                {
                    for (int j = j0; j < Math.Min(j1, i); j++)
                    {
                        h[j * n + i] = h[i * n + j];
                    }
                }
            }
        }
    }

    private static unsafe void RunPanels(KernelEntry kernel, ElementCodes? codes, ReadOnlySpan<float> weights, Span<byte> destination,
                                         int rows, int columns, int lazy, Factorization f, int threads,
                                         IProgress<long>? progress, CancellationToken token)
    {
        int panels = (rows + PanelRows - 1) / PanelRows;
        threads = Math.Min(threads, panels);
        fixed (float* w = weights)
        fixed (byte* d = destination)
        {
            var work = new PanelWork(kernel, codes, (nint)w, (nint)d, rows, columns, lazy, f, progress, token);
            if (threads <= 1)
            {
                for (int p = 0; p < panels; p++)
                {
                    work.Run(p);
                }
            }
            else
            {
                Parallel.For(0, panels, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = token }, work.Run);
            }
        }

        token.ThrowIfCancellationRequested();
    }

    /// <summary>One panel of rows through every column; each row's arithmetic is independent of the others and of the thread.</summary>
    private sealed unsafe class PanelWork(KernelEntry kernel, ElementCodes? codes, nint weights, nint destination, int rows, int columns,
                                          int lazy, Factorization f, IProgress<long>? progress, CancellationToken token)
    {
        private long _done;

        public void Run(int panel)
        {
            int n = columns;
            int r0 = panel * PanelRows;
            int count = Math.Min(PanelRows, rows - r0);
            QuantFormat format = kernel.Format;
            int bs = format.BlockSize;
            int rowBytes = n / bs * format.BytesPerBlock;
            var all = new ReadOnlySpan<float>((float*)weights, rows * n);
            var dest = new Span<byte>((byte*)destination, rows * rowBytes);
            int[] order = f.Order;
            ReadOnlySpan<float> v = f.V;
            ReadOnlySpan<float> importance = f.Importance;
            int levels = codes is null ? 0 : codes.Affine ? 2 : codes.Levels;

            float[] workRent = ArrayPool<float>.Shared.Rent(count * n);
            float[] deltaRent = ArrayPool<float>.Shared.Rent(count * lazy);
            float[] tableRent = ArrayPool<float>.Shared.Rent(Math.Max(levels, 1) * bs + 2 * bs);
            int[] originalRent = ArrayPool<int>.Shared.Rent(bs);
            try
            {
                Span<float> work = workRent.AsSpan(0, count * n);
                Span<float> delta = deltaRent.AsSpan(0, count * lazy);
                Span<float> table = tableRent.AsSpan(0, Math.Max(levels, 1) * bs);
                Span<float> block = tableRent.AsSpan(Math.Max(levels, 1) * bs, bs);
                Span<float> blockImportance = tableRent.AsSpan(Math.Max(levels, 1) * bs + bs, bs);
                Span<int> original = originalRent.AsSpan(0, bs);
                for (int r = 0; r < count; r++)
                {
                    ReadOnlySpan<float> src = all.Slice((r0 + r) * n, n);
                    Span<float> row = work.Slice(r * n, n);
                    for (int t = 0; t < n; t++)
                    {
                        row[t] = src[order[t]];
                    }
                }

                for (int l0 = 0; l0 < n; l0 += lazy)
                {
                    token.ThrowIfCancellationRequested();
                    int l1 = Math.Min(n, l0 + lazy);
                    int width = l1 - l0;
                    for (int r = 0; r < count; r++)
                    {
                        ReadOnlySpan<float> src = all.Slice((r0 + r) * n, n);
                        Span<float> row = work.Slice(r * n, n);
                        Span<float> rowDelta = delta.Slice(r * width, width);
                        Span<byte> rowDest = dest.Slice((r0 + r) * rowBytes, rowBytes);
                        for (int b0 = l0; b0 < l1; b0 += bs)
                        {
                            // Act-order only permutes columns inside a block, so a block of more than one value starts
                            // at column b0; position t holds column order[t], element order[t] − column of the block.
                            int column = bs == 1 ? order[b0] : b0;
                            Span<byte> blockBytes = rowDest.Slice(column / bs * format.BytesPerBlock, format.BytesPerBlock);
                            for (int t = b0; t < b0 + bs; t++)
                            {
                                block[order[t] - column] = row[t];
                            }

                            importance.Slice(column, bs).CopyTo(blockImportance);
                            kernel.Quantize!(block, blockBytes, blockImportance);
                            if (codes is not null)
                            {
                                RoundBlock(codes, blockBytes, table, original, src, row, rowDelta, v, order, b0, column, l0, l1, n);
                            }
                            else
                            {
                                kernel.Dequantize!(blockBytes, block);
                                for (int j = 0; j < bs; j++)
                                {
                                    int t = b0 + j;
                                    float e = src[order[t]] - block[order[t] - column];
                                    rowDelta[t - l0] = e;
                                    MatrixKernels.AddScaled(row.Slice(t + 1, l1 - t - 1), v.Slice(t * n + t + 1, l1 - t - 1), e);
                                }
                            }
                        }
                    }

                    if (l1 < n)
                    {
                        MatrixKernels.MultiplyAdd<float>(work[l1..], n, delta, width, v[(l0 * n + l1)..], n, count, width, n - l1);
                    }
                }

                if (f.Hessian is not null)
                {
                    KeepBetterRows(all, dest, r0, count, rowBytes);
                }

                long done = Interlocked.Add(ref _done, count);
                progress?.Report(done);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(workRent);
                ArrayPool<float>.Shared.Return(deltaRent);
                ArrayPool<float>.Shared.Return(tableRent);
                ArrayPool<int>.Shared.Return(originalRent);
            }
        }

        /// <summary>
        /// The whole-block path spreads a block's error only over later blocks, which with strongly correlated inputs can
        /// push those blocks' weights where a coarse format (the lattice types) represents them worse than it would have
        /// the original row; with four levels or fewer per element the scales fixed at the block's start can do the same. Rows are independent in the loss Δ·H·Δᵀ, so each row keeps whichever of its GPTQ bytes and
        /// the format's own quantization (importance Σx²) has the smaller loss.
        /// </summary>
        private void KeepBetterRows(ReadOnlySpan<float> all, Span<byte> dest, int r0, int count, int rowBytes)
        {
            int n = columns;
            float[] hessian = f.Hessian!;
            byte[] plainRent = ArrayPool<byte>.Shared.Rent(count * rowBytes);
            float[] diffRent = ArrayPool<float>.Shared.Rent(3 * count * n);
            double[] lossRent = ArrayPool<double>.Shared.Rent(2 * count);
            try
            {
                Span<byte> plain = plainRent.AsSpan(0, count * rowBytes);
                Span<float> gptqDiff = diffRent.AsSpan(0, count * n);
                Span<float> plainDiff = diffRent.AsSpan(count * n, count * n);
                Span<float> product = diffRent.AsSpan(2 * count * n, count * n);
                for (int r = 0; r < count; r++)
                {
                    ReadOnlySpan<float> src = all.Slice((r0 + r) * n, n);
                    Span<byte> plainRow = plain.Slice(r * rowBytes, rowBytes);
                    kernel.Quantize!(src, plainRow, f.Importance);
                    Difference(dest.Slice((r0 + r) * rowBytes, rowBytes), src, gptqDiff.Slice(r * n, n));
                    Difference(plainRow, src, plainDiff.Slice(r * n, n));
                }

                Span<double> gptqLoss = lossRent.AsSpan(0, count);
                Span<double> plainLoss = lossRent.AsSpan(count, count);
                Losses(gptqDiff, product, hessian, count, gptqLoss);
                Losses(plainDiff, product, hessian, count, plainLoss);
                for (int r = 0; r < count; r++)
                {
                    if (plainLoss[r] < gptqLoss[r])
                    {
                        plain.Slice(r * rowBytes, rowBytes).CopyTo(dest.Slice((r0 + r) * rowBytes, rowBytes));
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(plainRent);
                ArrayPool<float>.Shared.Return(diffRent);
                ArrayPool<double>.Shared.Return(lossRent);
            }
        }

        private void Difference(ReadOnlySpan<byte> rowBytes, ReadOnlySpan<float> src, Span<float> diff)
        {
            kernel.Dequantize!(rowBytes, diff);
            for (int j = 0; j < diff.Length; j++)
            {
                diff[j] = src[j] - diff[j];
            }
        }

        /// <summary>Δ·H·Δᵀ per row, in a fixed order of operations (the product through MultiplyAdd, then a sequential sum).</summary>
        private void Losses(Span<float> diff, Span<float> product, float[] hessian, int count, Span<double> losses)
        {
            int n = columns;
            product.Clear();
            MatrixKernels.MultiplyAdd<float>(product, n, diff, n, hessian, n, count, n, n);
            for (int r = 0; r < count; r++)
            {
                double loss = 0;
                for (int j = 0; j < n; j++)
                {
                    loss += (double)diff[r * n + j] * product[r * n + j];
                }

                losses[r] = loss;
            }
        }

        /// <summary>
        /// Keeps the scales the format's quantizer chose for this block and picks each element's code, left to right, as
        /// the nearest value those scales represent to the error-updated weight; the block's bytes end up holding them.
        /// </summary>
        private void RoundBlock(ElementCodes codes, Span<byte> blockBytes, Span<float> table, Span<int> original,
                                ReadOnlySpan<float> src, Span<float> row, Span<float> rowDelta, ReadOnlySpan<float> v, int[] order,
                                int b0, int column, int l0, int l1, int n)
        {
            int bs = original.Length;
            for (int j = 0; j < bs; j++)
            {
                original[j] = codes.Get(blockBytes, j);
            }

            // Value tables per element: every element set to one code, the block dequantized by the format itself.
            int passes = codes.Affine ? 2 : codes.Levels;
            for (int c = 0; c < passes; c++)
            {
                for (int j = 0; j < bs; j++)
                {
                    codes.Set(blockBytes, j, codes.MinCode + c);
                }

                kernel.Dequantize!(blockBytes, table.Slice(c * bs, bs));
            }

            for (int position = 0; position < bs; position++)
            {
                int t = b0 + position;
                int j = order[t] - column;
                float x = row[t];
                int best;
                float q;
                if (codes.Affine)
                {
                    float v0 = table[j];
                    float step = table[bs + j] - v0;
                    if (step == 0)
                    {
                        best = original[j] - codes.MinCode;
                        q = v0;
                    }
                    else
                    {
                        float k = MathF.Round((x - v0) / step);
                        k = Math.Clamp(k, 0, codes.Levels - 1);
                        best = (int)k;
                        q = v0 + best * step;
                    }
                }
                else
                {
                    best = original[j] - codes.MinCode;
                    q = table[best * bs + j];
                    float bestError = MathF.Abs(x - q);
                    for (int c = 0; c < codes.Levels; c++)
                    {
                        float value = table[c * bs + j];
                        float error = MathF.Abs(x - value);
                        if (error < bestError)
                        {
                            bestError = error;
                            best = c;
                            q = value;
                        }
                    }
                }

                codes.Set(blockBytes, j, codes.MinCode + best);
                float e = src[order[t]] - q;
                rowDelta[t - l0] = e;
                MatrixKernels.AddScaled(row.Slice(t + 1, l1 - t - 1), v.Slice(t * n + t + 1, l1 - t - 1), e);
            }
        }
    }
}
