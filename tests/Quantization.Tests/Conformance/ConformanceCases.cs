using Quantization.Formats;
using Quantization.Tests.Support;

namespace Quantization.Tests.Conformance;

/// <summary>One conformance input: a format, a data set, a shape and an importance kind.</summary>
public sealed record ConformanceCase(QuantType Type, string Dataset, int Rows, int RowLength, string Importance)
{
    public string Key => $"{Type}\t{Dataset}\t{Rows}\t{RowLength}\t{Importance}";

    public override string ToString() => $"{Type} {Dataset} {Rows}x{RowLength} imp={Importance}";

    public float[] Source()
    {
        int n = Rows * RowLength;
        ulong seed = (ulong)Fnv.Hash(System.Text.Encoding.UTF8.GetBytes(Key));
        return Dataset switch
        {
            "gaussian" => TestData.Gaussian(seed, n, 1.0),
            "weights" => TestData.Gaussian(seed, n, 0.02),
            "heavy" => TestData.HeavyTailed(seed, n),
            "transformer" => TestData.TransformerLike(seed, n),
            "positive" => TestData.Uniform(seed, n, 0.5, 3.0),
            "adversarial" => BoundedForAborts(Type, TestData.Adversarial(seed, n)),
            "adversarial2" => BoundedForAborts(Type, TestData.Adversarial(seed + 5, n)),
            _ => throw new ArgumentException(Dataset),
        };
    }

    /// <summary>
    /// The data unchanged, except for types whose ggml quantizer aborts the process (a failed GGML_ASSERT) on values
    /// whose weighted squared errors overflow float (|x|³ past the float range): there values beyond 1e12 are scaled
    /// by 1e-16. Our quantizers throw ArgumentException on such values instead (Formats/Iq3Tests).
    /// </summary>
    public static float[] BoundedForAborts(QuantType type, float[] x)
    {
        if (AbortsOnHugeValues(type))
        {
            for (int i = 0; i < x.Length; i++)
            {
                if (Math.Abs(x[i]) > 1e12f)
                {
                    x[i] *= 1e-16f;
                }
            }
        }

        return x;
    }

    /// <summary>Types whose ggml quantizer asserts when every candidate grid point is at an infinite weighted distance.</summary>
    public static bool AbortsOnHugeValues(QuantType type) => type is QuantType.IQ3_XXS or QuantType.IQ3_S;

    public float[] ImportanceWeights() => Importance switch
    {
        "none" => [],
        "imatrix" => TestData.Importance(7 + (ulong)RowLength, RowLength, withZeros: false),
        "zeros" => TestData.Importance(11 + (ulong)RowLength, RowLength, withZeros: true),
        _ => throw new ArgumentException(Importance),
    };

    /// <summary>Formats whose ggml quantizer takes importance into account (all block formats but the 8-bit ones).</summary>
    public static bool UsesImportance(QuantType type) => FormatRegistry.TryGet(type)!.Importance != ImportanceUse.Ignored;

    /// <summary>Every type the library quantizes (F32, a plain copy, aside): a newly registered format is covered at once.</summary>
    public static readonly QuantType[] Types =
        [.. Kernels.KernelRegistry.All.Where(e => e.CanQuantize && e.Type != QuantType.F32 && e.Format.IsGgmlType).Select(e => e.Type)];

    public static readonly string[] Datasets = ["gaussian", "weights", "heavy", "transformer", "positive", "adversarial", "adversarial2"];

    public static IEnumerable<ConformanceCase> All()
    {
        foreach (QuantType type in Types)
        {
            int block = QuantFormat.Get(type).BlockSize;
            (int Rows, int RowLength)[] shapes = block == 256 ? [(1, 256), (3, 512), (2, 4096)]
                : block > 32 ? [(1, block), (4, 3 * block), (3, 512), (2, 4096)]
                : [(1, 32), (4, 96), (3, 512), (2, 4096)];
            foreach (string dataset in Datasets)
            {
                foreach ((int rows, int rowLength) in shapes)
                {
                    if (FormatRegistry.TryGet(type)!.Importance != ImportanceUse.Required)
                    {
                        yield return new ConformanceCase(type, dataset, rows, rowLength, "none");
                    }

                    if (UsesImportance(type))
                    {
                        yield return new ConformanceCase(type, dataset, rows, rowLength, "imatrix");
                        yield return new ConformanceCase(type, dataset, rows, rowLength, "zeros");
                    }
                }
            }
        }
    }
}
