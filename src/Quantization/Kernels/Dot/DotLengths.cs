namespace Quantization.Kernels.Dot;

/// <summary>The argument checks every block dot product starts with, and their messages.</summary>
internal static class DotLengths
{
    /// <summary>
    /// Checks that <paramref name="n"/> is a non-negative multiple of <paramref name="blockValues"/> and that both spans
    /// hold its blocks; returns the block count.
    /// </summary>
    /// <param name="weights">The weight row.</param>
    /// <param name="activations">The activation row.</param>
    /// <param name="n">The values in the row.</param>
    /// <param name="blockValues">Values per weight block.</param>
    /// <param name="blockBytes">Bytes per weight block.</param>
    /// <param name="activationBlockBytes">Activation bytes per weight block.</param>
    public static int Blocks(ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int n, int blockValues, int blockBytes, int activationBlockBytes)
    {
        if (n < 0 || n % blockValues != 0)
        {
            ThrowHelper.ThrowArgument(nameof(n), $"{n} is not a non-negative multiple of {blockValues}.");
        }

        int blocks = n / blockValues;
        if (weights.Length < (long)blocks * blockBytes)
        {
            ThrowHelper.ThrowArgument(nameof(weights), $"Weights have {weights.Length} bytes; {n} values take {(long)blocks * blockBytes}.");
        }

        if (activations.Length < (long)blocks * activationBlockBytes)
        {
            ThrowHelper.ThrowArgument(nameof(activations), $"Activations have {activations.Length} bytes; {n} values take {(long)blocks * activationBlockBytes}.");
        }

        return blocks;
    }
}
