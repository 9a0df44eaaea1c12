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

    /// <summary>
    /// Types whose ggml quantizer asserts when every candidate grid point is at an infinite weighted distance: IQ3, and
    /// the lattice-search types (IQ1, IQ2), which also abort on rows whose Σx² overflows (<see cref="LatticeSearchRefuses"/>).
    /// </summary>
    public static bool AbortsOnHugeValues(QuantType type) => type is QuantType.IQ3_XXS or QuantType.IQ3_S || Array.IndexOf(LatticeSearchTypes, type) >= 0;

    public float[] ImportanceWeights() => Importance switch
    {
        "none" => [],
        "imatrix" => TestData.Importance(7 + (ulong)RowLength, RowLength, withZeros: false),
        "zeros" => TestData.Importance(11 + (ulong)RowLength, RowLength, withZeros: true),
        _ => throw new ArgumentException(Importance),
    };

    /// <summary>The formats whose ggml quantizer weights values by √(Σx²/256 + x²) per super-block and aborts when Σx² overflows.</summary>
    public static readonly QuantType[] LatticeSearchTypes = [QuantType.IQ2_XXS, QuantType.IQ2_XS, QuantType.IQ2_S, QuantType.IQ1_S, QuantType.IQ1_M];

    /// <summary>
    /// Whether a lattice-search format must refuse this input: some super-block's Σx² (float32, in order) is infinite.
    /// ggml aborts the process on such data (so it is never handed to the oracle); the library throws
    /// (<c>LatticeSearchRejectsOverflowingSquares</c>).
    /// </summary>
    public bool RefusedByLatticeSearch() => LatticeSearchRefuses(Type, Source());

    /// <summary>
    /// Whether <paramref name="type"/> is a lattice-search format and some super-block of <paramref name="x"/> has a
    /// Σx² (float32, in order) that overflows once scaled as the format's σ² needs (2·Σx² for IQ2_S and IQ1).
    /// </summary>
    public static bool LatticeSearchRefuses(QuantType type, float[] x)
    {
        if (Array.IndexOf(LatticeSearchTypes, type) < 0)
        {
            return false;
        }

        float factor = type is QuantType.IQ2_S or QuantType.IQ1_S or QuantType.IQ1_M ? 2 : 1;
        for (int b = 0; b < x.Length / 256; ++b)
        {
            float sumx2 = 0;
            for (int i = 256 * b; i < 256 * (b + 1); ++i)
            {
                sumx2 += x[i] * x[i];
            }

            if (float.IsInfinity(factor * sumx2))
            {
                return true;
            }
        }

        return false;
    }

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
                    var cases = new List<ConformanceCase>();
                    if (FormatRegistry.TryGet(type)!.Importance != ImportanceUse.Required)
                    {
                        cases.Add(new ConformanceCase(type, dataset, rows, rowLength, "none"));
                    }

                    if (UsesImportance(type))
                    {
                        cases.Add(new ConformanceCase(type, dataset, rows, rowLength, "imatrix"));
                        cases.Add(new ConformanceCase(type, dataset, rows, rowLength, "zeros"));
                    }

                    foreach (ConformanceCase c in cases)
                    {
                        if (!c.RefusedByLatticeSearch())
                        {
                            yield return c;
                        }
                    }
                }
            }
        }
    }
}
