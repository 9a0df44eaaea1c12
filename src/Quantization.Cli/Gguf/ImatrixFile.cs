using Quantization.Gguf;

namespace Quantization.Cli.Gguf;

/// <summary>
/// Reads the importance matrix llama.cpp's imatrix tool writes in GGUF form: for every weight a tensor
/// <c>&lt;name&gt;.in_sum2</c> (F32, per-column sums of squared activations, one row per expert) and
/// <c>&lt;name&gt;.counts</c> (F32, the activation rows summed, one per expert). The importance of column i is
/// in_sum2[i] / count, or 1 where the count is 0, as llama-quantize computes it.
/// </summary>
internal static class ImatrixFile
{
    private const string SumsSuffix = ".in_sum2";
    private const string CountsSuffix = ".counts";

    /// <summary>Loads the per-column importance of every 2-D weight the file covers, by weight name.</summary>
    /// <exception cref="InvalidDataException">The file is not a GGUF imatrix, or its tensors are inconsistent.</exception>
    public static Dictionary<string, float[]> Load(string path)
    {
        using GgufFile file = GgufFile.Open(path);
        var importance = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (GgufTensorInfo sums in file.Tensors)
        {
            if (!sums.Name.EndsWith(SumsSuffix, StringComparison.Ordinal))
            {
                continue;
            }

            string weight = sums.Name[..^SumsSuffix.Length];
            if (!file.TryGetTensor(weight + CountsSuffix, out GgufTensorInfo? counts))
            {
                throw new InvalidDataException($"imatrix '{path}': '{sums.Name}' has no '{weight}{CountsSuffix}'.");
            }

            if (sums.Type != QuantType.F32 || counts.Type != QuantType.F32 || counts.ElementCount == 0
                || sums.ElementCount % counts.ElementCount != 0 || sums.RowLength * counts.ElementCount != sums.ElementCount)
            {
                throw new InvalidDataException($"imatrix '{path}': '{weight}' has {sums.Type} sums [{sums.ShapeText}] and {counts.Type} counts [{counts.ShapeText}]; expected F32 [n, m] and F32 [1, m].");
            }

            if (counts.ElementCount != 1)
            {
                continue; // per-expert (3-D) weights: convert quantizes 2-D tensors only
            }

            ReadOnlySpan<float> s = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetTensorData(sums));
            float count = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.GetTensorData(counts))[0];
            var values = new float[s.Length];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = count > 0 ? s[i] / count : 1;
            }

            importance[weight] = values;
        }

        if (importance.Count == 0 && !file.Tensors.Any(t => t.Name.EndsWith(SumsSuffix, StringComparison.Ordinal)))
        {
            throw new InvalidDataException($"imatrix '{path}' has no '<name>{SumsSuffix}' tensors; only the GGUF imatrix format is supported.");
        }

        return importance;
    }
}
