namespace Quantization.Calibration;

/// <summary>
/// What calibration learns about the inputs of one weight matrix: XᵀX (the Hessian of the layer's squared output
/// error, up to a factor 2), the per-column Σx² (llama.cpp's imatrix before the division by the row count), the
/// per-column Σ|x| and the number of activation rows seen. Sums are kept in double.
/// </summary>
/// <remarks>
/// <see cref="Add"/> and <see cref="Merge"/> may be called from several threads at once: each call takes a lock, so
/// the sums see whole calls one after another (in an order the threads decide, which can change the last bits of
/// the sums). The statistics hold a <see cref="Columns"/> × <see cref="Columns"/> matrix of doubles: 128 MiB for
/// 4096 columns.
/// </remarks>
public sealed class ActivationStatistics
{
    /// <summary>Rows converted to double and multiplied in one batch.</summary>
    private const int Batch = 32;

    private readonly double[] _gram;
    private readonly double[] _sumSquares;
    private readonly double[] _sumAbs;
    private readonly Lock _lock = new();

    /// <summary>Creates empty statistics for activation rows of <paramref name="columns"/> values (the weights' row length).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="columns"/> is not positive or is above 46340 (the matrix would not fit an array).</exception>
    public ActivationStatistics(int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(columns, 46340);
        Columns = columns;
        _gram = new double[(long)columns * columns];
        _sumSquares = new double[columns];
        _sumAbs = new double[columns];
    }

    /// <summary>Values per activation row.</summary>
    public int Columns { get; }

    /// <summary>Activation rows seen.</summary>
    public long Count { get; private set; }

    /// <summary>Accumulates whole rows of <see cref="Columns"/> activations (n rows × <see cref="Columns"/>, row-major).</summary>
    /// <exception cref="ArgumentException"><paramref name="activations"/> is not a whole number of rows, or holds NaN or ±∞ (then nothing is added).</exception>
    public void Add(ReadOnlySpan<float> activations)
    {
        int n = Columns;
        if (activations.Length % n != 0)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"{activations.Length} values are not a whole number of rows of {n}.");
        }

        Kernels.FiniteCheck.ThrowIfNotFinite(activations, nameof(activations));
        int rows = activations.Length / n;
        if (rows == 0)
        {
            return;
        }

        int batch = Math.Min(Batch, rows);
        double[] transposed = System.Buffers.ArrayPool<double>.Shared.Rent(batch * n);
        double[] plain = System.Buffers.ArrayPool<double>.Shared.Rent(batch * n);
        try
        {
            lock (_lock)
            {
                for (int r0 = 0; r0 < rows; r0 += batch)
                {
                    int m = Math.Min(batch, rows - r0);
                    for (int r = 0; r < m; r++)
                    {
                        ReadOnlySpan<float> x = activations.Slice((r0 + r) * n, n);
                        for (int j = 0; j < n; j++)
                        {
                            double v = x[j];
                            plain[r * n + j] = v;
                            transposed[j * m + r] = v;
                            _sumSquares[j] += v * v;
                            _sumAbs[j] += Math.Abs(v);
                        }
                    }

                    // Lower triangle only (j ≤ i); the products of floats are exact in double.
                    for (int i = 0; i < n; i += 4)
                    {
                        int count = Math.Min(4, n - i);
                        MatrixKernels.MultiplyAdd<double>(_gram.AsSpan(i * n), n, transposed.AsSpan(i * m), m, plain, n,
                                                          count, m, Math.Min(n, i + count));
                    }

                    Count += m;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(transposed);
            System.Buffers.ArrayPool<double>.Shared.Return(plain);
        }
    }

    /// <summary>Adds the rows <paramref name="other"/> has seen (sums of sums, so the last bits can differ from one <see cref="Add"/> of every row).</summary>
    /// <exception cref="ArgumentException"><paramref name="other"/> has a different <see cref="Columns"/>.</exception>
    public void Merge(ActivationStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Columns != Columns)
        {
            ThrowHelper.ThrowArgument(nameof(other), $"The statistics have {other.Columns} columns; these have {Columns}.");
        }

        if (ReferenceEquals(other, this))
        {
            lock (_lock)
            {
                MergeFrom(CopyGram(), (double[])_sumSquares.Clone(), (double[])_sumAbs.Clone(), Count);
            }

            return;
        }

        double[] gram, squares, abs;
        long count;
        lock (other._lock)
        {
            gram = other.CopyGram();
            squares = (double[])other._sumSquares.Clone();
            abs = (double[])other._sumAbs.Clone();
            count = other.Count;
        }

        lock (_lock)
        {
            MergeFrom(gram, squares, abs, count);
        }
    }

    private double[] CopyGram() => (double[])_gram.Clone();

    private void MergeFrom(double[] gram, double[] squares, double[] abs, long count)
    {
        int n = Columns;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                _gram[i * n + j] += gram[i * n + j];
            }

            _sumSquares[i] += squares[i];
            _sumAbs[i] += abs[i];
        }

        Count += count;
    }

    /// <summary>Writes XᵀX (<see cref="Columns"/>², row-major, symmetric) to <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Columns"/>².</exception>
    public void CopyGramMatrix(Span<double> destination)
    {
        int n = Columns;
        if (destination.Length < (long)n * n)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {(long)n * n} are needed.");
        }

        lock (_lock)
        {
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j <= i; j++)
                {
                    double v = _gram[i * n + j];
                    destination[i * n + j] = v;
                    destination[j * n + i] = v;
                }
            }
        }
    }

    /// <summary>Writes the lower triangle of XᵀX (row-major, j ≤ i) into <paramref name="destination"/>; the upper triangle is left as it was.</summary>
    internal void CopyLowerGram(Span<double> destination)
    {
        int n = Columns;
        lock (_lock)
        {
            for (int i = 0; i < n; i++)
            {
                _gram.AsSpan(i * n, i + 1).CopyTo(destination.Slice(i * n, i + 1));
            }
        }
    }

    /// <summary>Per-column Σx² (the diagonal of XᵀX).</summary>
    public double[] GetSumOfSquares()
    {
        lock (_lock)
        {
            return (double[])_sumSquares.Clone();
        }
    }

    /// <summary>Per-column mean |x| (zeros before any row was added).</summary>
    public double[] GetMeanAbsolute()
    {
        lock (_lock)
        {
            var mean = new double[Columns];
            for (int j = 0; j < Columns; j++)
            {
                mean[j] = Count == 0 ? 0 : _sumAbs[j] / Count;
            }

            return mean;
        }
    }

    /// <summary>
    /// Per-column Σx² / <see cref="Count"/> as float: the importance llama.cpp's imatrix tool would compute from the same
    /// rows, for <see cref="Quantizer.Quantize"/> (zeros before any row was added).
    /// </summary>
    public float[] GetImportance()
    {
        lock (_lock)
        {
            var importance = new float[Columns];
            for (int j = 0; j < Columns; j++)
            {
                importance[j] = Count == 0 ? 0f : (float)(_sumSquares[j] / Count);
            }

            return importance;
        }
    }

    /// <summary>
    /// The statistics of the same rows with column j multiplied by <paramref name="scales"/>[j]: for GPTQ after AWQ, whose
    /// weights W·diag(s) see the activations X·diag(1/s) (pass 1/s here).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="scales"/> does not hold <see cref="Columns"/> finite values.</exception>
    public ActivationStatistics Scaled(ReadOnlySpan<float> scales)
    {
        int n = Columns;
        if (scales.Length != n)
        {
            ThrowHelper.ThrowArgument(nameof(scales), $"{scales.Length} scales given; {n} are needed.");
        }

        Kernels.FiniteCheck.ThrowIfNotFinite(scales, nameof(scales));
        var result = new ActivationStatistics(n);
        lock (_lock)
        {
            for (int i = 0; i < n; i++)
            {
                double si = scales[i];
                for (int j = 0; j <= i; j++)
                {
                    result._gram[i * n + j] = _gram[i * n + j] * si * scales[j];
                }

                result._sumSquares[i] = _sumSquares[i] * si * si;
                result._sumAbs[i] = _sumAbs[i] * Math.Abs(si);
            }

            result.Count = Count;
        }

        return result;
    }
}
