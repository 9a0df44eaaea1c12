namespace Quantization.Models;

/// <summary>One tensor of a model as the quantization rules see it: its name, extents (row length first) and type.</summary>
/// <param name="Name">The GGUF tensor name, e.g. <c>blk.0.attn_v.weight</c>.</param>
/// <param name="Dimensions">The extents, the row length first (<c>ne[0]</c>).</param>
/// <param name="Type">The stored type.</param>
public sealed record ModelTensor(string Name, IReadOnlyList<long> Dimensions, QuantType Type)
{
    /// <summary>The number of values.</summary>
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);

    /// <summary>The row length (<c>ne[0]</c>).</summary>
    public long RowLength => Dimensions.Count == 0 ? 1 : Dimensions[0];

    /// <summary>The extent of the third dimension (<c>ne[2]</c>, the experts of a mixture-of-experts tensor), 1 if absent.</summary>
    public long Slices => Dimensions.Count > 2 ? Dimensions[2] : 1;

    /// <summary>ggml's <c>ggml_n_dims</c>: the number of dimensions without trailing extents of 1 (at least 1).</summary>
    public int Rank
    {
        get
        {
            int n = Dimensions.Count;
            while (n > 1 && Dimensions[n - 1] == 1)
            {
                n--;
            }

            return Math.Max(n, 1);
        }
    }
}
