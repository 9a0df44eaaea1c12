namespace Quantization.Calibration;

/// <summary>
/// AWQ (activation-aware weight quantization): a per-input-column scale s that makes the columns with large
/// activations larger before quantization, so their relative rounding error shrinks. The layer computes
/// x·Wᵀ = (x·diag(1/s))·(W·diag(s))ᵀ, so the quantized matrix is W·diag(s) (<see cref="ApplyScales"/>) and 1/s is folded
/// into whatever produces x (a norm's weight, the previous matrix's output rows). See docs/calibration.md.
/// </summary>
public static class Awq
{
    private static readonly AwqOptions s_defaults = new();

    /// <summary>
    /// Searches the per-column scales for quantizing <paramref name="weights"/> to <paramref name="type"/>: for each α of
    /// the grid, s = mean|x|^α (normalised so that √(max·min) = 1), W·diag(s) is quantized with the format's own
    /// quantizer, dequantized and divided by s, and the α with the least output error ‖X·Wᵀ − X·Ŵᵀ‖² on the (subsampled)
    /// activations wins. α = 0 (s = 1, plain quantization) is a candidate, so the result is never worse than plain on
    /// that sample.
    /// </summary>
    /// <param name="type">Any format <see cref="Quantizer.Quantize"/> supports.</param>
    /// <param name="weights">rows × columns, row-major. Rows of several matrices that share one input (q, k, v; gate, up) are searched together by passing them concatenated.</param>
    /// <param name="rows">Output rows.</param>
    /// <param name="columns">Inputs per row; a multiple of the format's block size.</param>
    /// <param name="activations">n rows × columns of calibration inputs, n ≥ 1.</param>
    /// <param name="scales">Receives the <paramref name="columns"/> scales s.</param>
    /// <param name="options">Grid size, sample count, threads, progress and cancellation; null for the defaults.</param>
    /// <exception cref="ArgumentException">A length or option is wrong, or a value is NaN or infinite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="columns"/> is not positive.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be quantized.</exception>
    /// <exception cref="OperationCanceledException">The options' token was canceled.</exception>
    public static void SearchScales(QuantType type, ReadOnlySpan<float> weights, int rows, int columns,
                                    ReadOnlySpan<float> activations, Span<float> scales, AwqOptions? options = null)
    {
        options ??= s_defaults;
        Validate(type, weights, rows, columns, activations, options);
        if (scales.Length != columns)
        {
            ThrowHelper.ThrowArgument(nameof(scales), $"{scales.Length} scales given; {columns} are needed.");
        }

        if (options.GridSize <= 0)
        {
            ThrowHelper.ThrowArgument(nameof(options), $"GridSize {options.GridSize} must be positive.");
        }

        CancellationToken token = options.CancellationToken;
        token.ThrowIfCancellationRequested();
        int n = columns;
        int count = activations.Length / n;
        var meanAbs = new double[n];
        var meanSquare = new double[n];
        for (int r = 0; r < count; r++)
        {
            ReadOnlySpan<float> x = activations.Slice(r * n, n);
            for (int j = 0; j < n; j++)
            {
                meanAbs[j] += Math.Abs(x[j]);
                meanSquare[j] += (double)x[j] * x[j];
            }
        }

        for (int j = 0; j < n; j++)
        {
            meanAbs[j] /= count;
            meanSquare[j] /= count;
        }

        var evaluator = new Evaluator(type, weights, rows, columns, activations, options);
        var candidate = new float[n];
        var importance = new float[n];
        double bestError = double.PositiveInfinity;
        for (int g = 0; g < options.GridSize; g++)
        {
            token.ThrowIfCancellationRequested();
            double alpha = (double)g / options.GridSize;
            double max = 0, min = double.PositiveInfinity;
            for (int j = 0; j < n; j++)
            {
                double s = Math.Max(Math.Pow(meanAbs[j], alpha), 1e-4);
                candidate[j] = (float)s;
                max = Math.Max(max, s);
                min = Math.Min(min, s);
            }

            float norm = (float)Math.Sqrt(max * min);
            for (int j = 0; j < n; j++)
            {
                candidate[j] = alpha == 0 ? 1f : candidate[j] / norm;
                importance[j] = (float)(meanSquare[j] / ((double)candidate[j] * candidate[j]));
            }

            double error = evaluator.ScaledError(candidate, options.UseImportance ? importance : default);
            if (error < bestError)
            {
                bestError = error;
                candidate.CopyTo(scales);
            }

            options.Progress?.Report(g + 1);
        }
    }

    /// <summary>
    /// Clips each format block of <paramref name="weights"/> (in place): the block's max |w| is shrunk by the ratio, of
    /// 1, 1 − <see cref="AwqOptions.MaxShrink"/>/<see cref="AwqOptions.ClipGridSize"/>, …, whose quantized block gives the
    /// least output error on <paramref name="activations"/>, and the weights are clamped to it. Call it after
    /// <see cref="ApplyScales"/> with the activations the scaled weights see (X·diag(1/s)). Formats with one value per
    /// block are left unchanged.
    /// </summary>
    /// <param name="type">The format the weights will be quantized to.</param>
    /// <param name="weights">rows × columns, row-major; clamped in place.</param>
    /// <param name="rows">Output rows.</param>
    /// <param name="columns">Inputs per row; a multiple of the format's block size.</param>
    /// <param name="activations">n rows × columns of the inputs these weights multiply.</param>
    /// <param name="options">Clip grid, sample count, threads, progress and cancellation; null for the defaults.</param>
    /// <exception cref="ArgumentException">A length or option is wrong, or a value is NaN or infinite.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="columns"/> is not positive.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be quantized.</exception>
    /// <exception cref="OperationCanceledException">The options' token was canceled.</exception>
    public static void SearchClip(QuantType type, Span<float> weights, int rows, int columns, ReadOnlySpan<float> activations,
                                  AwqOptions? options = null)
    {
        options ??= s_defaults;
        Validate(type, weights, rows, columns, activations, options);
        if (options.ClipGridSize <= 0 || !(options.MaxShrink >= 0 && options.MaxShrink < 1))
        {
            ThrowHelper.ThrowArgument(nameof(options), "ClipGridSize must be positive and MaxShrink in [0, 1).");
        }

        int bs = QuantFormat.Get(type).BlockSize;
        if (bs == 1)
        {
            return;
        }

        CancellationToken token = options.CancellationToken;
        token.ThrowIfCancellationRequested();
        int n = columns;
        int blocks = n / bs;
        var original = weights.ToArray();
        var evaluator = new Evaluator(type, original, rows, columns, activations, options);
        var importance = new float[n];
        if (options.UseImportance)
        {
            int count = activations.Length / n;
            var sums = new double[n];
            for (int r = 0; r < count; r++)
            {
                for (int j = 0; j < n; j++)
                {
                    sums[j] += (double)activations[r * n + j] * activations[r * n + j];
                }
            }

            for (int j = 0; j < n; j++)
            {
                importance[j] = (float)(sums[j] / count);
            }
        }

        var blockMax = new float[rows * blocks];
        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < blocks; b++)
            {
                float m = 0;
                for (int j = 0; j < bs; j++)
                {
                    m = Math.Max(m, Math.Abs(original[r * n + b * bs + j]));
                }

                blockMax[r * blocks + b] = m;
            }
        }

        var bestError = new double[rows * blocks];
        bestError.AsSpan().Fill(double.PositiveInfinity);
        var bestRatio = new float[rows * blocks];
        var clipped = new float[rows * n];
        var blockErrors = new double[rows * blocks];
        for (int g = 0; g < options.ClipGridSize; g++)
        {
            token.ThrowIfCancellationRequested();
            float ratio = (float)(1 - options.MaxShrink * g / options.ClipGridSize);
            Clamp(original, clipped, blockMax, ratio, rows, n, bs);
            evaluator.BlockErrors(clipped, options.UseImportance ? importance : default, blockErrors);
            for (int i = 0; i < blockErrors.Length; i++)
            {
                if (blockErrors[i] < bestError[i])
                {
                    bestError[i] = blockErrors[i];
                    bestRatio[i] = ratio;
                }
            }

            options.Progress?.Report(g + 1);
        }

        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < blocks; b++)
            {
                float limit = blockMax[r * blocks + b] * bestRatio[r * blocks + b];
                for (int j = 0; j < bs; j++)
                {
                    int i = r * n + b * bs + j;
                    weights[i] = Math.Clamp(original[i], -limit, limit);
                }
            }
        }
    }

    private static void Clamp(float[] source, float[] destination, float[] blockMax, float ratio, int rows, int n, int bs)
    {
        int blocks = n / bs;
        for (int r = 0; r < rows; r++)
        {
            for (int b = 0; b < blocks; b++)
            {
                float limit = blockMax[r * blocks + b] * ratio;
                for (int j = 0; j < bs; j++)
                {
                    int i = r * n + b * bs + j;
                    destination[i] = Math.Clamp(source[i], -limit, limit);
                }
            }
        }
    }

    /// <summary>Writes W·diag(<paramref name="scales"/>) (column j of every row multiplied by scales[j]) to <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">A length is wrong.</exception>
    public static void ApplyScales(ReadOnlySpan<float> weights, int rows, int columns, ReadOnlySpan<float> scales, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if ((long)rows * columns != weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"{weights.Length} weights given; rows × columns is {(long)rows * columns}.");
        }

        if (scales.Length != columns)
        {
            ThrowHelper.ThrowArgument(nameof(scales), $"{scales.Length} scales given; {columns} are needed.");
        }

        if (destination.Length < weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {weights.Length} are needed.");
        }

        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < columns; j++)
            {
                destination[r * columns + j] = weights[r * columns + j] * scales[j];
            }
        }
    }

    private static void Validate(QuantType type, ReadOnlySpan<float> weights, int rows, int columns, ReadOnlySpan<float> activations, AwqOptions options)
    {
        CalibrationArguments.Matrix(type, weights, rows, columns);
        if (activations.Length == 0 || activations.Length % columns != 0)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"{activations.Length} activations are not a positive whole number of rows of {columns}.");
        }

        if (options.MaxSamples <= 0)
        {
            ThrowHelper.ThrowArgument(nameof(options), $"MaxSamples {options.MaxSamples} must be positive.");
        }

        CalibrationArguments.Threads(options.MaxDegreeOfParallelism);

        Kernels.FiniteCheck.ThrowIfNotFinite(weights, nameof(weights));
        Kernels.FiniteCheck.ThrowIfNotFinite(activations, nameof(activations));
    }

    /// <summary>
    /// Quantizes candidates and measures their output error on up to MaxSamples activation rows. The products run
    /// through <see cref="MatrixKernels.MultiplyAdd"/> (ascending k per element), so the choice does not depend on the
    /// vector width or the thread count.
    /// </summary>
    private sealed class Evaluator
    {
        private readonly QuantType _type;
        private readonly float[] _weights;
        private readonly int _rows;
        private readonly int _columns;
        private readonly int _samples;
        private readonly float[] _samplesT;
        private readonly float[] _scaled;
        private readonly byte[] _bytes;
        private readonly float[] _restored;
        private readonly float[] _products;
        private readonly int _threads;

        public Evaluator(QuantType type, ReadOnlySpan<float> weights, int rows, int columns, ReadOnlySpan<float> activations, AwqOptions options)
        {
            _type = type;
            _weights = weights.ToArray();
            _rows = rows;
            _columns = columns;
            int count = activations.Length / columns;
            _samples = Math.Min(count, options.MaxSamples);

            // Xsᵀ: columns × samples, the samples spread evenly over the given rows.
            _samplesT = new float[columns * _samples];
            for (int s = 0; s < _samples; s++)
            {
                int r = (int)((long)s * count / _samples);
                for (int j = 0; j < columns; j++)
                {
                    _samplesT[j * _samples + s] = activations[r * columns + j];
                }
            }

            _scaled = new float[rows * columns];
            _bytes = new byte[Quantizer.GetByteCount(type, (long)rows * columns)];
            _restored = new float[rows * columns];
            _products = new float[rows * _samples];
            _threads = CalibrationArguments.Threads(options.MaxDegreeOfParallelism);
        }

        /// <summary>‖X·(W − Ŵ)ᵀ‖² with Ŵ = dequantize(quantize(W·diag(s))) / s.</summary>
        public double ScaledError(float[] scales, ReadOnlySpan<float> importance)
        {
            int n = _columns;
            ApplyScales(_weights, _rows, n, scales, _scaled);
            Quantizer.QuantizeParallel(_type, _scaled, _bytes, n, importance, _threads);
            Quantizer.Dequantize(_type, _bytes, _restored);
            for (int r = 0; r < _rows; r++)
            {
                for (int j = 0; j < n; j++)
                {
                    int i = r * n + j;
                    _restored[i] = _weights[i] - _restored[i] / scales[j];
                }
            }

            Array.Clear(_products);
            MultiplyRows(_restored, 0, n);
            double total = 0;
            foreach (float p in _products)
            {
                total += (double)p * p;
            }

            return total;
        }

        /// <summary>Per (row, block): Σ over samples of (x[block] · (W − Ŵ)[row, block])², Ŵ the quantized <paramref name="candidate"/>.</summary>
        public void BlockErrors(float[] candidate, ReadOnlySpan<float> importance, double[] errors)
        {
            int n = _columns;
            int bs = QuantFormat.Get(_type).BlockSize;
            int blocks = n / bs;
            Quantizer.QuantizeParallel(_type, candidate, _bytes, n, importance, _threads);
            Quantizer.Dequantize(_type, _bytes, _restored);
            for (int i = 0; i < _restored.Length; i++)
            {
                _restored[i] = _weights[i] - _restored[i];
            }

            for (int b = 0; b < blocks; b++)
            {
                Array.Clear(_products);
                MultiplyRows(_restored, b * bs, bs);
                for (int r = 0; r < _rows; r++)
                {
                    double e = 0;
                    for (int s = 0; s < _samples; s++)
                    {
                        double p = _products[r * _samples + s];
                        e += p * p;
                    }

                    errors[r * blocks + b] = e;
                }
            }
        }

        /// <summary>products[r, s] += Σ_{j in [first, first + width)} diff[r, j]·x[s, j], rows split across threads.</summary>
        private void MultiplyRows(float[] diff, int first, int width)
        {
            int n = _columns;
            int chunks = Math.Min(_threads, (_rows + 31) / 32);
            if (chunks <= 1)
            {
                MatrixKernels.MultiplyAdd<float>(_products, _samples, diff.AsSpan(first), n, _samplesT.AsSpan(first * _samples), _samples,
                                                 _rows, width, _samples);
                return;
            }

            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, c =>
            {
                int r0 = (int)((long)_rows * c / chunks);
                int r1 = (int)((long)_rows * (c + 1) / chunks);
                MatrixKernels.MultiplyAdd<float>(_products.AsSpan(r0 * _samples), _samples, diff.AsSpan(r0 * n + first), n,
                                                 _samplesT.AsSpan(first * _samples), _samples, r1 - r0, width, _samples);
            });
        }
    }
}
