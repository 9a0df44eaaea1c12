using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Quantization.Kernels.Dot;

/// <summary>
/// FP16 → float32 for the block scales of the dot kernels by table (256 KiB, built once from <see cref="Fp16.ToSingle"/>,
/// so the bits are the same for every input): one load instead of the general conversion's branches, and no call that
/// would spill the vector registers of the inner loops. ggml keeps the same table for processors without F16C; a model's
/// scales occupy a narrow band of it, so the lookups stay in cache.
/// </summary>
internal static class HalfTable
{
    private static readonly float[] s_values = Build();

    private static float[] Build()
    {
        var values = new float[65536];
        for (int h = 0; h < values.Length; h++)
        {
            values[h] = Fp16.ToSingle((ushort)h);
        }

        return values;
    }

    /// <summary>The table's first entry, for loops that keep the table in a register.</summary>
    public static ref float First => ref MemoryMarshal.GetArrayDataReference(s_values);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s_values), bits);
}
