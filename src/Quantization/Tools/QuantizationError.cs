using System.Buffers;
using System.Globalization;
using System.Numerics.Tensors;
using Quantization.Kernels;

namespace Quantization;

/// <summary>
/// How far a reconstruction is from the original values: root-mean-square error, largest absolute error,
/// signal-to-noise ratio and cosine similarity. <see cref="Compute"/> compares two spans;
/// <see cref="Measure"/> quantizes values into a format, dequantizes them again and compares the result with the input.
/// </summary>
/// <remarks>
/// <para>Every sum is accumulated in <see cref="double"/>, so the metrics are accurate to about 1e-15 relative
/// even for millions of values and an SNR beyond 100 dB (F16, BF16) is still resolved.</para>
/// <para>NaN or an infinity in either input makes the metrics NaN (except <see cref="Count"/>); <see cref="Measure"/>
/// rejects such input, as <see cref="Quantizer.Quantize"/> does.</para>
/// </remarks>
public readonly struct QuantizationError
{
    // Values per accumulation step: the stack scratch is three double spans of this length (12 KiB).
    private const int ChunkLength = 512;

    // Values per quantize/dequantize batch in Measure (whole rows are always kept together).
    private const int MeasureBatchValues = 1 << 16;

    private readonly double _sumSquaredSignal;
    private readonly double _sumSquaredReconstruction;
    private readonly double _sumProduct;
    private readonly double _sumSquaredError;

    private QuantizationError(long count, double sumSquaredSignal, double sumSquaredReconstruction, double sumProduct,
                              double sumSquaredError, double maxAbsoluteError)
    {
        Count = count;
        _sumSquaredSignal = sumSquaredSignal;
        _sumSquaredReconstruction = sumSquaredReconstruction;
        _sumProduct = sumProduct;
        _sumSquaredError = sumSquaredError;
        MaxAbsoluteError = maxAbsoluteError;
    }

    /// <summary>Number of values compared.</summary>
    public long Count { get; }

    /// <summary>Mean of the squared differences, Σ(x − y)² / n; 0 when no values were compared.</summary>
    public double MeanSquaredError => Count == 0 ? 0 : _sumSquaredError / Count;

    /// <summary>Root-mean-square error, √(Σ(x − y)² / n); 0 when no values were compared.</summary>
    public double Rmse => Math.Sqrt(MeanSquaredError);

    /// <summary>Largest absolute difference, max |x − y|; 0 when no values were compared.</summary>
    public double MaxAbsoluteError { get; }

    /// <summary>Root-mean-square of the original values, √(Σx² / n); 0 when no values were compared.</summary>
    public double SignalRms => Count == 0 ? 0 : Math.Sqrt(_sumSquaredSignal / Count);

    /// <summary>
    /// Signal-to-noise ratio in decibels, 10·log10(Σx² / Σ(x − y)²). It is <see cref="double.PositiveInfinity"/> when
    /// the reconstruction is exact (including all-zero or empty inputs), and <see cref="double.NegativeInfinity"/> when
    /// the original is all zeros but the reconstruction is not (there is noise and no signal).
    /// </summary>
    public double SnrDecibels =>
        _sumSquaredError == 0 ? double.PositiveInfinity
        : _sumSquaredSignal == 0 ? double.NegativeInfinity
        : 10 * Math.Log10(_sumSquaredSignal / _sumSquaredError);

    /// <summary>
    /// Cosine similarity Σxy / (‖x‖·‖y‖), in [−1, 1]. Two zero vectors (or two empty spans) are identical and give 1;
    /// a zero vector against a non-zero one has no direction in common and gives 0.
    /// </summary>
    public double CosineSimilarity
    {
        get
        {
            if (_sumSquaredSignal == 0 || _sumSquaredReconstruction == 0)
            {
                return _sumSquaredSignal == _sumSquaredReconstruction ? 1 : 0;
            }

            // Float inputs keep every sum below 2^31 · (2^128)² ≈ 2^287, so the product cannot overflow a double.
            double cosine = _sumProduct / Math.Sqrt(_sumSquaredSignal * _sumSquaredReconstruction);
            return double.IsNaN(cosine) ? cosine : Math.Clamp(cosine, -1, 1);
        }
    }

    /// <summary>Compares <paramref name="original"/> with <paramref name="reconstructed"/> value by value.</summary>
    /// <param name="original">The reference values x.</param>
    /// <param name="reconstructed">The approximation y, as long as <paramref name="original"/>.</param>
    /// <returns>The error metrics of y against x.</returns>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static QuantizationError Compute(ReadOnlySpan<float> original, ReadOnlySpan<float> reconstructed)
    {
        if (original.Length != reconstructed.Length)
        {
            ThrowHelper.ThrowArgument(nameof(reconstructed), $"Reconstructed has {reconstructed.Length} values; original has {original.Length}.");
        }

        var accumulator = new Accumulator();
        accumulator.Add(original, reconstructed);
        return accumulator.ToResult();
    }

    /// <summary>
    /// Quantizes <paramref name="source"/> into <paramref name="type"/> with <see cref="Quantizer.Quantize"/>, dequantizes
    /// the bytes with <see cref="Quantizer.Dequantize"/>, and compares the round trip with <paramref name="source"/>.
    /// </summary>
    /// <param name="type">The format to measure.</param>
    /// <param name="source">Whole rows of <paramref name="rowLength"/> values; every value must be finite.</param>
    /// <param name="rowLength">Values per row; a positive multiple of the type's block size.</param>
    /// <param name="importance">Empty, or one non-negative weight per column, passed on to <see cref="Quantizer.Quantize"/>.</param>
    /// <returns>The error metrics of the round trip.</returns>
    /// <remarks>Works a batch of rows at a time in pooled buffers, so it needs no memory in proportion to <paramref name="source"/>
    /// (except for a format with a per-tensor scale, I2_S, which is measured on the whole tensor at once).</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not a defined type.</exception>
    /// <exception cref="ArgumentException">A length is wrong, or a value is NaN or infinite.</exception>
    /// <exception cref="NotSupportedException"><paramref name="type"/> cannot be quantized or dequantized by this version.</exception>
    public static QuantizationError Measure(QuantType type, ReadOnlySpan<float> source, int rowLength,
                                           ReadOnlySpan<float> importance = default)
    {
        QuantFormat format = QuantFormat.Get(type);
        if (!format.CanQuantize || !format.CanDequantize)
        {
            ThrowHelper.ThrowNotSupported(type, "Quantization round trip");
        }

        if (rowLength <= 0 || rowLength % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(rowLength), $"Row length {rowLength} is not a positive multiple of the {format.Name} block size {format.BlockSize}.");
        }

        if (source.Length % rowLength != 0)
        {
            ThrowHelper.ThrowArgument(nameof(source), $"Source length {source.Length} is not a whole number of rows of {rowLength} values.");
        }

        if (!importance.IsEmpty && importance.Length != rowLength)
        {
            ThrowHelper.ThrowArgument(nameof(importance), $"Importance has {importance.Length} values; it must be empty or have one per column ({rowLength}).");
        }

        // Checked over the whole input here so that the index in the message is the caller's, not a batch's.
        FiniteCheck.ThrowIfNotFinite(source, nameof(source));

        int rows = source.Length / rowLength;
        // A format with a per-tensor trailer (I2_S) shares one scale across the tensor: it must see it whole.
        int rowsPerBatch = format.TrailerBytes > 0 ? Math.Max(1, rows) : Math.Max(1, MeasureBatchValues / rowLength);
        int batchRows = Math.Min(rowsPerBatch, rows);
        int batchValues = batchRows * rowLength;
        int batchBytes = checked((int)Quantizer.GetByteCount(type, batchValues));

        byte[] quantized = ArrayPool<byte>.Shared.Rent(batchBytes);
        float[] roundTrip = ArrayPool<float>.Shared.Rent(batchValues);
        try
        {
            var accumulator = new Accumulator();
            for (int row = 0; row < rows; row += batchRows)
            {
                int values = Math.Min(batchRows, rows - row) * rowLength;
                ReadOnlySpan<float> batch = source.Slice(row * rowLength, values);
                Span<byte> bytes = quantized.AsSpan(0, (int)Quantizer.GetByteCount(type, values));
                Span<float> restored = roundTrip.AsSpan(0, values);

                Quantizer.Quantize(type, batch, bytes, rowLength, importance);
                Quantizer.Dequantize(type, bytes, restored);
                accumulator.Add(batch, restored);
            }

            return accumulator.ToResult();
        }
        finally
        {
            ArrayPool<float>.Shared.Return(roundTrip);
            ArrayPool<byte>.Shared.Return(quantized);
        }
    }

    /// <summary>Returns the metrics as one line of invariant-culture text.</summary>
    /// <returns>For example <c>n=1024 RMSE=0.0012 max=0.0051 SNR=34.21 dB cos=0.999810</c>.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"n={Count} RMSE={Rmse:G6} max={MaxAbsoluteError:G6} SNR={SnrDecibels:F2} dB cos={CosineSimilarity:F6}");

    /// <summary>Running sums over any number of span pairs.</summary>
    private struct Accumulator
    {
        private long _count;
        private double _sumXX;
        private double _sumYY;
        private double _sumXY;
        private double _sumDD;
        private double _maxAbs;

        public void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
        {
            // Why double: a float accumulator loses the small terms once the running sum is large (after ~10^6
            // values only the top 24 bits of each addition survive), which would bias RMSE and make the SNR of
            // near-exact formats (F16, BF16) meaningless. Each chunk is widened to double first: a float squared
            // or multiplied by a float is exact in double, the difference of two floats is exact or within one
            // double ulp, so only the summation rounds, at 2^-53 per step. TensorPrimitives then vectorises the
            // widening, the subtraction and the reductions.
            Span<double> xd = stackalloc double[ChunkLength];
            Span<double> yd = stackalloc double[ChunkLength];
            Span<double> dd = stackalloc double[ChunkLength];
            for (int start = 0; start < x.Length; start += ChunkLength)
            {
                int n = Math.Min(ChunkLength, x.Length - start);
                Span<double> xs = xd[..n];
                Span<double> ys = yd[..n];
                Span<double> ds = dd[..n];
                TensorPrimitives.ConvertChecked(x.Slice(start, n), xs);
                TensorPrimitives.ConvertChecked(y.Slice(start, n), ys);
                TensorPrimitives.Subtract(xs, ys, ds);

                _sumXX += TensorPrimitives.SumOfSquares<double>(xs);
                _sumYY += TensorPrimitives.SumOfSquares<double>(ys);
                _sumXY += TensorPrimitives.Dot<double>(xs, ys);
                _sumDD += TensorPrimitives.SumOfSquares<double>(ds);

                // MaxMagnitude returns NaN if any element is NaN, and Math.Max propagates it.
                _maxAbs = Math.Max(_maxAbs, Math.Abs(TensorPrimitives.MaxMagnitude<double>(ds)));
            }

            _count += x.Length;
        }

        public readonly QuantizationError ToResult() => new(_count, _sumXX, _sumYY, _sumXY, _sumDD, _maxAbs);
    }
}
