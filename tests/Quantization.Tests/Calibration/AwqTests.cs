using Quantization.Calibration;

namespace Quantization.Tests.Calibration;

public sealed class AwqTests
{
    private static readonly Lazy<CalibrationLayer> s_layer = new(() => new CalibrationLayer(rows: 24, samples: 64, seed: 4));

    [Fact]
    public void ScalesDoNotDependOnThreads()
    {
        CalibrationLayer layer = s_layer.Value;
        var one = new float[CalibrationLayer.Columns];
        var many = new float[CalibrationLayer.Columns];
        Awq.SearchScales(QuantType.Q4_K, layer.Weights, layer.Rows, CalibrationLayer.Columns, layer.Activations, one, new AwqOptions { MaxDegreeOfParallelism = 1, GridSize = 8 });
        Awq.SearchScales(QuantType.Q4_K, layer.Weights, layer.Rows, CalibrationLayer.Columns, layer.Activations, many, new AwqOptions { GridSize = 8 });
        Assert.Equal(one, many);
    }

    [Fact]
    public void ClipSearchNeverIncreasesTheOutputError()
    {
        CalibrationLayer layer = s_layer.Value;
        const int columns = CalibrationLayer.Columns;
        float[] clipped = (float[])layer.Weights.Clone();
        Awq.SearchClip(QuantType.Q4_0, clipped, layer.Rows, columns, layer.Activations, new AwqOptions { ClipGridSize = 6, MaxSamples = layer.Samples });
        Assert.Contains(clipped.Zip(layer.Weights), p => p.First != p.Second);
        Assert.All(clipped.Zip(layer.Weights), p => Assert.True(Math.Abs(p.First) <= Math.Abs(p.Second)));

        var bytes = new byte[Quantizer.GetByteCount(QuantType.Q4_0, clipped.Length)];
        var restored = new float[clipped.Length];
        float[] importance = layer.Statistics.GetImportance();
        Quantizer.Quantize(QuantType.Q4_0, layer.Weights, bytes, columns, importance);
        Quantizer.Dequantize(QuantType.Q4_0, bytes, restored);
        double before = layer.OutputError(restored);
        Quantizer.Quantize(QuantType.Q4_0, clipped, bytes, columns, importance);
        Quantizer.Dequantize(QuantType.Q4_0, bytes, restored);
        Assert.True(layer.OutputError(restored) <= before * 1.0001, $"{layer.OutputError(restored)} vs {before}");
    }

    [Fact]
    public void ApplyScalesMultipliesColumns()
    {
        float[] w = [1, 2, 3, 4, 5, 6];
        var d = new float[6];
        Awq.ApplyScales(w, 2, 3, [2f, 0.5f, -1f], d);
        Assert.Equal([2f, 1f, -3f, 8f, 2.5f, -6f], d);
        Assert.Throws<ArgumentException>("scales", () => Awq.ApplyScales(w, 2, 3, [1f], d));
        Assert.Throws<ArgumentException>("destination", () => Awq.ApplyScales(w, 2, 3, [1f, 1f, 1f], new float[5]));
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        CalibrationLayer layer = s_layer.Value;
        int rows = layer.Rows;
        const int columns = CalibrationLayer.Columns;
        var scales = new float[columns];
        float[] w = layer.Weights, x = layer.Activations;
        Assert.Throws<ArgumentException>("scales", () => Awq.SearchScales(QuantType.Q4_K, w, rows, columns, x, scales.AsSpan(1)));
        Assert.Throws<ArgumentException>("activations", () => Awq.SearchScales(QuantType.Q4_K, w, rows, columns, x.AsSpan(1), scales));
        Assert.Throws<ArgumentException>("activations", () => Awq.SearchScales(QuantType.Q4_K, w, rows, columns, default, scales));
        Assert.Throws<ArgumentException>("weights", () => Awq.SearchScales(QuantType.Q4_K, w.AsSpan(1), rows, columns, x, scales));
        Assert.Throws<ArgumentException>("options", () => Awq.SearchScales(QuantType.Q4_K, w, rows, columns, x, scales, new AwqOptions { GridSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>("rows", () => Awq.SearchScales(QuantType.Q4_K, w, 0, columns, x, scales));
        Assert.Throws<ArgumentException>("options", () => Awq.SearchClip(QuantType.Q4_K, w.ToArray(), rows, columns, x, new AwqOptions { MaxShrink = 1 }));
        float[] bad = (float[])x.Clone();
        bad[3] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>("activations", () => Awq.SearchScales(QuantType.Q4_K, w, rows, columns, bad, scales));
    }

    [Fact]
    public void ACanceledTokenStopsTheSearch()
    {
        CalibrationLayer layer = s_layer.Value;
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var options = new AwqOptions { CancellationToken = cts.Token };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Awq.SearchScales(QuantType.Q4_K, layer.Weights, layer.Rows, CalibrationLayer.Columns, layer.Activations, new float[CalibrationLayer.Columns], options));
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Awq.SearchClip(QuantType.Q4_K, layer.Weights.ToArray(), layer.Rows, CalibrationLayer.Columns, layer.Activations, options));
    }
}
