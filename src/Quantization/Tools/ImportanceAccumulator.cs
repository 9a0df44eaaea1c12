using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Quantization;

/// <summary>
/// Builds an importance vector (an "imatrix" column) from calibration activations the way llama.cpp's imatrix tool
/// does: for every column the sum of x² over the activation rows seen, in float, and the number of rows; the
/// importance is sum / count. Pass <see cref="GetImportance()"/>'s result to
/// <see cref="Quantizer.Quantize"/> for the
/// weight matrix those activations multiply.
/// </summary>
public sealed class ImportanceAccumulator
{
    private readonly float[] _sums;

    /// <summary>Creates an accumulator for activation rows of <paramref name="columns"/> values (the weights' row length).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="columns"/> is not positive.</exception>
    public ImportanceAccumulator(int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        _sums = new float[columns];
    }

    /// <summary>Values per activation row.</summary>
    public int Columns => _sums.Length;

    /// <summary>Activation rows accumulated so far.</summary>
    public long Count { get; private set; }

    /// <summary>The per-column sums of x² (float, accumulated in row order as llama.cpp does).</summary>
    public ReadOnlySpan<float> SumsOfSquares => _sums;

    /// <summary>Accumulates whole rows of <see cref="Columns"/> activations.</summary>
    /// <exception cref="ArgumentException"><paramref name="activations"/> is not a whole number of rows, or holds NaN or ±∞.</exception>
    public void Add(ReadOnlySpan<float> activations)
    {
        if (activations.Length % Columns != 0)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"{activations.Length} values are not a whole number of rows of {Columns}.");
        }

        Kernels.FiniteCheck.ThrowIfNotFinite(activations, nameof(activations));
        Span<float> sums = _sums;
        for (int r = 0; r < activations.Length; r += Columns)
        {
            // Column j only ever meets column j, so vector lanes keep each sum's order exact.
            ReadOnlySpan<float> x = activations.Slice(r, Columns);
            int j = 0;
            if (Vector128.IsHardwareAccelerated)
            {
                ref float s = ref MemoryMarshal.GetReference(sums);
                ref float xr = ref MemoryMarshal.GetReference(x);
                for (; j <= Columns - Vector128<float>.Count; j += Vector128<float>.Count)
                {
                    Vector128<float> v = Vector128.LoadUnsafe(ref xr, (nuint)j);
                    (Vector128.LoadUnsafe(ref s, (nuint)j) + v * v).StoreUnsafe(ref s, (nuint)j);
                }
            }

            for (; j < Columns; j++)
            {
                sums[j] += x[j] * x[j];
            }

            Count++;
        }
    }

    /// <summary>Writes sum / count per column to <paramref name="destination"/> (zeros before any row was added).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Columns"/>.</exception>
    public void GetImportance(Span<float> destination)
    {
        if (destination.Length < Columns)
        {
            ThrowHelper.ThrowArgument(nameof(destination), $"Destination has room for {destination.Length} values; {Columns} are needed.");
        }

        float count = Count;
        for (int j = 0; j < Columns; j++)
        {
            destination[j] = Count == 0 ? 0f : _sums[j] / count;
        }
    }

    /// <summary>Returns sum / count per column as a new array.</summary>
    public float[] GetImportance()
    {
        var result = new float[Columns];
        GetImportance(result);
        return result;
    }

    /// <summary>Forgets every row.</summary>
    public void Reset()
    {
        Array.Clear(_sums);
        Count = 0;
    }
}
