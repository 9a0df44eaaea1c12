using System.Globalization;
using System.Text;
using Quantization.Calibration;

namespace Quantization.Tests.Calibration;

/// <summary>
/// Output error ‖X·Wᵀ − X·Ŵᵀ‖² of a synthetic layer (correlated inputs, outlier channels) for the plain quantizer,
/// the imatrix quantizer, GPTQ, AWQ and AWQ followed by GPTQ, in every format GPTQ supports.
/// </summary>
public sealed class CalibrationQualityTests
{
    private static readonly Lazy<CalibrationLayer> s_layer = new(() => new CalibrationLayer());
    private static readonly Lazy<CalibrationLayer> s_smallLayer = new(() => new CalibrationLayer(rows: 4, samples: 64, seed: 11));

    /// <summary>Formats where GPTQ must beat the imatrix quantizer outright.</summary>
    private static readonly QuantType[] s_mustWin =
        [QuantType.Q4_K, QuantType.Q3_K, QuantType.Q2_K, QuantType.IQ4_XS, QuantType.Q4_0, QuantType.Q8_0];

    internal sealed record Errors(double Plain, double Imatrix, double Gptq, double GptqWholeBlocks, double GptqActOrder, double Awq, double AwqGptq)
    {
        public double BestCalibrated => Math.Min(Gptq, Math.Min(Awq, AwqGptq));
    }

    internal static Errors Measure(QuantType type, CalibrationLayer layer, int awqGrid = 20)
    {
        int rows = layer.Rows;
        const int columns = CalibrationLayer.Columns;
        var bytes = new byte[Quantizer.GetByteCount(type, rows * columns)];
        var restored = new float[rows * columns];
        float[] importance = layer.Statistics.GetImportance();
        bool required = type is QuantType.IQ2_XXS or QuantType.IQ2_XS or QuantType.IQ1_S;
        float[] ones = Enumerable.Repeat(1f, columns).ToArray();

        Quantizer.Quantize(type, layer.Weights, bytes, columns, required ? ones : default);
        Quantizer.Dequantize(type, bytes, restored);
        double plain = layer.OutputError(restored);

        Quantizer.Quantize(type, layer.Weights, bytes, columns, importance);
        Quantizer.Dequantize(type, bytes, restored);
        double imatrix = layer.OutputError(restored);

        Gptq.Quantize(type, layer.Weights, bytes, rows, columns, layer.Statistics);
        Quantizer.Dequantize(type, bytes, restored);
        double gptq = layer.OutputError(restored);

        Gptq.Quantize(type, layer.Weights, bytes, rows, columns, layer.Statistics, new GptqOptions { RoundElements = false });
        Quantizer.Dequantize(type, bytes, restored);
        double gptqWhole = layer.OutputError(restored);

        Gptq.Quantize(type, layer.Weights, bytes, rows, columns, layer.Statistics, new GptqOptions { ActOrder = true });
        Quantizer.Dequantize(type, bytes, restored);
        double gptqActOrder = layer.OutputError(restored);

        var scales = new float[columns];
        Awq.SearchScales(type, layer.Weights, rows, columns, layer.Activations, scales, new AwqOptions { MaxSamples = layer.Samples, GridSize = awqGrid });
        var scaled = new float[rows * columns];
        Awq.ApplyScales(layer.Weights, rows, columns, scales, scaled);
        var inverse = scales.Select(s => 1 / s).ToArray();
        ActivationStatistics scaledStatistics = layer.Statistics.Scaled(inverse);
        Quantizer.Quantize(type, scaled, bytes, columns, scaledStatistics.GetImportance());
        Quantizer.Dequantize(type, bytes, restored);
        Unscale(restored, inverse, columns);
        double awq = layer.OutputError(restored);

        Gptq.Quantize(type, scaled, bytes, rows, columns, scaledStatistics);
        Quantizer.Dequantize(type, bytes, restored);
        Unscale(restored, inverse, columns);
        double awqGptq = layer.OutputError(restored);
        return new Errors(plain, imatrix, gptq, gptqWhole, gptqActOrder, awq, awqGptq);
    }

    private static void Unscale(float[] restored, float[] inverse, int columns)
    {
        for (int i = 0; i < restored.Length; i++)
        {
            restored[i] *= inverse[i % columns];
        }
    }

    [Fact]
    public void GptqBeatsTheImatrixQuantizer()
    {
        string table = Sweep(s_layer.Value, s_mustWin, mustWin: true);
        TestContext.Current.TestOutputHelper?.WriteLine(table);
    }

    [Fact]
    public void CalibrationIsNeverWorseThanTheImatrixQuantizerInAnySupportedFormat()
    {
        string table = Sweep(s_smallLayer.Value, [.. CalibrationLayer.SupportedTypes.Except(s_mustWin)], mustWin: false);
        TestContext.Current.TestOutputHelper?.WriteLine(table);
    }

    private static string Sweep(CalibrationLayer layer, IEnumerable<QuantType> types, bool mustWin)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"{"type",-8} {"plain",12} {"imatrix",12} {"gptq",12} {"gptq-block",12} {"gptq-act",12} {"awq",12} {"awq+gptq",12}   gptq/imatrix");
        var failures = new List<string>();
        foreach (QuantType type in types)
        {
            Errors e = Measure(type, layer, mustWin ? 20 : 6);
            table.AppendLine(CultureInfo.InvariantCulture,
                $"{type,-8} {e.Plain,12:E3} {e.Imatrix,12:E3} {e.Gptq,12:E3} {e.GptqWholeBlocks,12:E3} {e.GptqActOrder,12:E3} {e.Awq,12:E3} {e.AwqGptq,12:E3}   {e.Gptq / e.Imatrix:F3}");
            if (mustWin && !(e.Gptq < 0.5 * e.Imatrix && e.BestCalibrated < e.Imatrix))
            {
                failures.Add($"{type}: GPTQ {e.Gptq:E3} and best calibrated {e.BestCalibrated:E3} must beat imatrix {e.Imatrix:E3}");
            }

            // Every format: neither GPTQ nor the best calibrated result is worse than imatrix (F32 ties at zero).
            if (!(e.Gptq <= e.Imatrix * 1.01) || !(e.BestCalibrated <= e.Imatrix * 1.01))
            {
                failures.Add($"{type}: GPTQ {e.Gptq:E3} or best calibrated {e.BestCalibrated:E3} is worse than imatrix {e.Imatrix:E3}");
            }

            // AWQ has s = 1 (the imatrix quantizer) among its candidates, measured on the same rows here.
            if (!(e.Awq <= e.Imatrix * 1.0001))
            {
                failures.Add($"{type}: AWQ {e.Awq:E3} is worse than its s = 1 candidate {e.Imatrix:E3}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures) + Environment.NewLine + table);
        return table.ToString();
    }

}
