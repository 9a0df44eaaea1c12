using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Quantization.Gguf;

namespace Quantization.Tests.Gguf;

/// <summary>
/// Seeded mutations of valid files (truncations, bit flips, huge counts and lengths, bad offsets): every case must load
/// (and then every tensor and value must be readable) or fail with <see cref="InvalidDataException"/>, nothing else.
/// </summary>
public sealed class GgufMutationTests
{
    private const int Cases = 20000;

    // CI runs the arm64 build under qemu, about 20x slower and with every method JIT-compiled under emulation: a longer
    // budget and a smaller floor there, so the time bound stays and the test still has to run a real number of cases.
    private static readonly bool s_emulated = RuntimeInformation.ProcessArchitecture != Architecture.X64;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(s_emulated ? 60 : 4);
    private static readonly int MinimumCases = s_emulated ? 200 : 1000;

    private static readonly ulong[] s_hostileValues =
    [
        0, 1, 3, 31, 63, 64, 65, 255, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1UL << 32, 1UL << 40, 1UL << 62,
        long.MaxValue, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 7,
    ];

    private static List<byte[]> Seeds()
    {
        var seeds = new List<byte[]>
        {
            GgufSample.Create(seed: 1, includeEmptyTensor: true).WriteOurs(),
            GgufSample.Create(seed: 2, alignment: 8).WriteOurs(),
            GgufSample.Create(seed: 3, alignment: 64).WriteOurs(),
        };

        using var stream = new MemoryStream();
        using (var writer = new GgufWriter(stream, leaveOpen: true))
        {
            writer.SetMetadata("nested", GgufValue.FromArray<GgufValue>([GgufValue.FromArray<int>([1, 2]), GgufValue.FromArray<GgufValue>([GgufValue.FromArray<string>(["s"])])]));
            writer.SetMetadata("tokens", GgufValue.FromArray<string>(["<s>", "</s>", "a", "b"]));
            writer.AddTensor("t", QuantType.Q4_0, [32, 2]);
            writer.WriteTensorData(new byte[36]);
            writer.Finish();
        }

        seeds.Add(stream.ToArray());
        return seeds;
    }

    [Fact]
    public void MutatedFilesLoadOrFailWithInvalidData()
    {
        var random = new Random(20261127);
        List<byte[]> seeds = Seeds();
        int loaded = 0, rejected = 0, run = 0;
        var clock = Stopwatch.StartNew();
        for (; run < Cases && clock.Elapsed < Budget; run++)
        {
            byte[] seed = seeds[run % seeds.Count];
            byte[] mutated = Mutate(seed, random);
            try
            {
                using GgufFile file = GgufFile.Read(mutated);
                Touch(file);
                loaded++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {run}: {ex.GetType().Name}: {ex.Message}\n{Convert.ToHexString(mutated.AsSpan(0, Math.Min(mutated.Length, 256)))}");
            }
        }

        Assert.True(run >= MinimumCases, $"only {run} cases ran in the time budget");
        Assert.True(loaded > 0 && rejected > run / 4, $"{loaded} loaded, {rejected} rejected of {run}");
    }

    /// <summary>Reads everything a caller could: every value's text, every tensor's bytes.</summary>
    private static void Touch(GgufFile file)
    {
        foreach (KeyValuePair<string, GgufValue> kv in file.Metadata)
        {
            _ = kv.Value.ToString();
        }

        foreach (GgufTensorInfo t in file.Tensors)
        {
            GgufTensorView view = file.GetTensorView(t);
            if (view.FitsInSpan)
            {
                ReadOnlySpan<byte> span = view.Span;
                if (!span.IsEmpty)
                {
                    _ = span[0] ^ span[^1];
                }
            }
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        byte[] bytes = (byte[])seed.Clone();
        switch (random.Next(6))
        {
            case 0: // truncation
                return bytes[..random.Next(bytes.Length)];
            case 1: // 1-8 bit flips, mostly in the header where the structure is
            {
                int flips = random.Next(1, 9);
                int span = random.Next(2) == 0 ? Math.Min(bytes.Length, 512) : bytes.Length;
                for (int i = 0; i < flips; i++)
                {
                    bytes[random.Next(span)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            }

            case 2: // a hostile 64-bit value over any 8 bytes (counts, lengths, dimensions, offsets)
            {
                int at = random.Next(Math.Min(bytes.Length, 1024) - 8);
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), s_hostileValues[random.Next(s_hostileValues.Length)]);
                return bytes;
            }

            case 3: // a hostile 32-bit value (types, dimension counts)
            {
                int at = random.Next(Math.Min(bytes.Length, 1024) - 4);
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)s_hostileValues[random.Next(s_hostileValues.Length)] ^ (uint)random.Next(16));
                return bytes;
            }

            case 4: // the tensor or key count
            {
                int at = random.Next(2) == 0 ? 8 : 16;
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), s_hostileValues[random.Next(s_hostileValues.Length)]);
                return bytes;
            }

            default: // a chunk cut out or duplicated
            {
                int from = random.Next(bytes.Length), length = random.Next(1, 64);
                length = Math.Min(length, bytes.Length - from);
                return random.Next(2) == 0
                    ? [.. bytes[..from], .. bytes[(from + length)..]]
                    : [.. bytes[..(from + length)], .. bytes[from..]];
            }
        }
    }
}
