using System.Buffers.Binary;
using Quantization.Schemes;

namespace Quantization.Checkpoints;

/// <summary>The asymmetric integer scheme a GPTQ or AWQ layer repacks into, and the column order of activation-order layers.</summary>
internal static class GroupScheme
{
    /// <summary>Group granularity, or row granularity when one group spans the inputs.</summary>
    public static QuantScheme Create(int bits, int groupSize, int inFeatures, SchemeScaleType scaleType, string paramName)
    {
        if (groupSize == inFeatures)
        {
            return QuantScheme.Integer(bits, SchemeGranularity.Row, 0, symmetric: false, scaleType);
        }

        if (groupSize < QuantScheme.MinGroupSize || groupSize > QuantScheme.MaxGroupSize || groupSize % QuantScheme.GroupSizeMultiple != 0)
        {
            ThrowHelper.ThrowArgument(paramName, $"Group size {groupSize} is not supported: a multiple of {QuantScheme.GroupSizeMultiple} from {QuantScheme.MinGroupSize} to {QuantScheme.MaxGroupSize}, or the whole input.");
        }

        return QuantScheme.Integer(bits, SchemeGranularity.Group, groupSize, symmetric: false, scaleType);
    }

    /// <summary>
    /// The inputs sorted by their group (stable): column j of the repacked matrix is input result[j], and group g covers
    /// columns g · groupSize … — null when that is the identity.
    /// </summary>
    public static int[]? SortByGroup(ReadOnlySpan<byte> gIdx, int inFeatures, int groups, int groupSize)
    {
        int[] next = new int[groups];
        var group = new int[inFeatures];
        bool identity = true;
        for (int i = 0; i < inFeatures; i++)
        {
            int g = BinaryPrimitives.ReadInt32LittleEndian(gIdx.Slice(i * 4, 4));
            if ((uint)g >= (uint)groups)
            {
                throw new InvalidDataException($"g_idx[{i}] is {g}; the layer has {groups} groups.");
            }

            group[i] = g;
            next[g]++;
            identity &= g == i / groupSize;
        }

        for (int g = 0; g < groups; g++)
        {
            if (next[g] != groupSize)
            {
                throw new InvalidDataException($"g_idx puts {next[g]} inputs in group {g}; every group has {groupSize}.");
            }

            next[g] = g * groupSize;
        }

        if (identity)
        {
            return null;
        }

        var columnInputs = new int[inFeatures];
        for (int i = 0; i < inFeatures; i++)
        {
            columnInputs[next[group[i]]++] = i;
        }

        return columnInputs;
    }
}
