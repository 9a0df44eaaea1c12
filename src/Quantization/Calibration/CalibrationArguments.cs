using Quantization.Kernels;

namespace Quantization.Calibration;

/// <summary>The argument checks GPTQ and AWQ share: the weight matrix against its format, and the thread count.</summary>
internal static class CalibrationArguments
{
    /// <summary>
    /// Checks that <paramref name="type"/> is a block format this version quantizes and dequantizes (no per-tensor
    /// trailer) and that <paramref name="weights"/> is a positive rows × columns matrix whose rows are whole blocks.
    /// </summary>
    public static KernelEntry Matrix(QuantType type, ReadOnlySpan<float> weights, int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        KernelEntry kernel = KernelRegistry.TryGet(type) is { CanQuantize: true, CanDequantize: true } k
            ? k
            : throw new NotSupportedException($"{type} cannot be quantized by this version of Quantization.");
        QuantFormat format = kernel.Format;
        if (format.TrailerBytes != 0)
        {
            throw new NotSupportedException($"{type} has a per-tensor trailer; calibration writes block formats only.");
        }

        if (columns % format.BlockSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(columns), $"{columns} is not a multiple of the {format.Name} block size {format.BlockSize}.");
        }

        if ((long)rows * columns != weights.Length)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"{weights.Length} weights given; rows × columns is {(long)rows * columns}.");
        }

        return kernel;
    }

    /// <summary>Checks an options object's MaxDegreeOfParallelism (positive, or −1) and returns the thread count it means.</summary>
    public static int Threads(int maxDegreeOfParallelism)
    {
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException("options", maxDegreeOfParallelism, "MaxDegreeOfParallelism must be positive, or -1 for one thread per processor.");
        }

        return maxDegreeOfParallelism == -1 ? Environment.ProcessorCount : maxDegreeOfParallelism;
    }
}
