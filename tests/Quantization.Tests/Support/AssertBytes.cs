using System.Runtime.InteropServices;

namespace Quantization.Tests.Support;

public static class AssertBytes
{
    /// <summary>Fails at the first differing byte, naming the block and the offset inside it.</summary>
    public static void Equal(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, QuantType type)
    {
        Assert.Equal(expected.Length, actual.Length);
        int i = expected.SequenceEqual(actual) ? -1 : FirstDifference(expected, actual);
        if (i >= 0)
        {
            int blockBytes = QuantFormat.Get(type).BytesPerBlock;
            Assert.Fail($"{type}: byte {i} differs (block {i / blockBytes}, offset {i % blockBytes}): expected 0x{expected[i]:x2}, got 0x{actual[i]:x2}; "
                        + $"{CountDifferences(expected, actual)} of {expected.Length} bytes differ.");
        }
    }

    /// <summary>Bit-exact float comparison (NaN payloads included).</summary>
    public static void Equal(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, QuantType type)
    {
        Assert.Equal(expected.Length, actual.Length);
        ReadOnlySpan<int> e = MemoryMarshal.Cast<float, int>(expected), a = MemoryMarshal.Cast<float, int>(actual);
        for (int i = 0; i < e.Length; i++)
        {
            if (e[i] != a[i])
            {
                Assert.Fail($"{type}: value {i} differs: expected {expected[i]:R} (0x{e[i]:x8}), got {actual[i]:R} (0x{a[i]:x8}).");
            }
        }
    }

    /// <summary>
    /// Bit-exact float comparison in which any NaN matches any NaN. For blocks whose stored scales are themselves NaN,
    /// which NaN comes out (its sign and payload) depends on which operand the processor propagates, and the JIT may
    /// commute an addition's operands: NaN payloads are not part of the contract.
    /// </summary>
    public static void EqualOrBothNaN(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, QuantType type)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])
                        || (float.IsNaN(expected[i]) && float.IsNaN(actual[i]));
            if (!same)
            {
                Assert.Fail($"{type}: value {i} differs: expected {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):x8}), got {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):x8}).");
            }
        }
    }

    private static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }

        return -1;
    }

    private static int CountDifferences(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = 0;
        for (int i = 0; i < a.Length; i++)
        {
            n += a[i] != b[i] ? 1 : 0;
        }

        return n;
    }
}
