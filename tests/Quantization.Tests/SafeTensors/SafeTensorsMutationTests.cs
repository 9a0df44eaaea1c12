using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Quantization.SafeTensors;

namespace Quantization.Tests.SafeTensors;

/// <summary>
/// Seeded mutations of valid files (truncations, bit flips, hostile lengths, numbers and dtypes in the header, cut or
/// duplicated chunks): every case must load (and then every tensor must be readable) or fail with
/// <see cref="InvalidDataException"/>, nothing else.
/// </summary>
public sealed partial class SafeTensorsMutationTests
{
    private const int Cases = 20000;

    // The arm64 build runs under qemu, about 20x slower: a longer budget and a smaller floor there.
    private static readonly bool s_emulated = RuntimeInformation.ProcessArchitecture != Architecture.X64;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(s_emulated ? 60 : 4);
    private static readonly int MinimumCases = s_emulated ? 200 : 1000;

    private static readonly ulong[] s_hostileLengths =
    [
        0, 1, 7, 8, 9, 100, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1UL << 32, 100_000_000, 100_000_001, long.MaxValue, 1UL << 63, ulong.MaxValue,
    ];

    private static readonly string[] s_hostileNumbers =
    [
        "0", "1", "-1", "2", "3", "7", "8", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "2305843009213693952", "1e30", "1.5", "-0", "00", "1E2", "\"1\"", "null", "[]",
    ];

    private static readonly string[] s_dtypes = ["F4", "F6_E2M3", "BOOL", "U8", "F8_E4M3", "I16", "BF16", "F32", "C64", "U64", "F128", "", "f32"];

    private static List<byte[]> Seeds()
    {
        var seeds = new List<byte[]>();
        var random = new Random(1);
        for (int s = 0; s < 3; s++)
        {
            using var stream = new MemoryStream();
            using (var writer = new SafeTensorsWriter(stream, leaveOpen: true))
            {
                writer.SetMetadata("format", "pt");
                foreach (SafeTensorsDType dtype in SafeTensorsDTypes.All.Where((_, i) => i % 3 == s))
                {
                    long[] shape = [random.Next(1, 3), 4 * random.Next(1, 3)]; // whole bytes for 4 and 6 bits
                    var data = new byte[shape[0] * shape[1] * SafeTensorsDTypes.GetBitSize(dtype) / 8];
                    random.NextBytes(data);
                    writer.AddTensor($"t.{dtype}", dtype, shape, data);
                }

                writer.AddTensor("empty", SafeTensorsDType.F32, [0, 3], Array.Empty<byte>());
                writer.AddTensor("scalar", SafeTensorsDType.F16, [], new byte[2]);
                writer.Finish();
            }

            seeds.Add(stream.ToArray());
        }

        return seeds;
    }

    [Fact]
    public void MutatedFilesLoadOrFailWithInvalidData()
    {
        var random = new Random(20261207);
        List<byte[]> seeds = Seeds();
        int loaded = 0, rejected = 0, run = 0;
        var clock = Stopwatch.StartNew();
        for (; run < Cases && clock.Elapsed < Budget; run++)
        {
            byte[] mutated = Mutate(seeds[run % seeds.Count], random);
            try
            {
                using SafeTensorsFile file = SafeTensorsFile.Read(mutated);
                Touch(file);
                loaded++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {run}: {ex.GetType().Name}: {ex.Message}\n{Encoding.UTF8.GetString(mutated.AsSpan(0, Math.Min(mutated.Length, 512)))}");
            }
        }

        Assert.True(run >= MinimumCases, $"only {run} cases ran in the time budget");
        Assert.True(loaded > 0 && rejected > run / 4, $"{loaded} loaded, {rejected} rejected of {run}");
    }

    /// <summary>Reads everything a caller could: every tensor's bytes, rows and floats.</summary>
    internal static void Touch(SafeTensorsFile file)
    {
        foreach (KeyValuePair<string, string> kv in file.Metadata)
        {
            _ = kv.Key.Length + kv.Value.Length;
        }

        foreach (SafeTensorsTensorInfo t in file.Tensors)
        {
            SafeTensorsTensorView view = file.GetTensorView(t);
            if (!view.FitsInSpan)
            {
                continue;
            }

            ReadOnlySpan<byte> span = view.Span;
            if (!span.IsEmpty)
            {
                _ = span[0] ^ span[^1];
            }

            if (t.RowByteCount >= 0 && view.Rows > 0 && view.MaxRowsPerSpan > 0)
            {
                _ = view.GetRows(view.Rows - 1, 1).Length;
            }

            if (view.CanReadAsSingle && t.ElementCount <= 1 << 16)
            {
                view.ToSingle(new float[t.ElementCount]);
            }
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        byte[] bytes = (byte[])seed.Clone();
        int headerEnd = (int)Math.Min(bytes.Length, 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        switch (random.Next(7))
        {
            case 0: // truncation
                return bytes[..random.Next(bytes.Length)];
            case 1: // 1-8 bit flips, mostly in the header
            {
                int span = random.Next(4) == 0 ? bytes.Length : headerEnd;
                for (int i = random.Next(1, 9); i > 0; i--)
                {
                    bytes[random.Next(span)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            }

            case 2: // a hostile header length
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, s_hostileLengths[random.Next(s_hostileLengths.Length)] ^ (ulong)random.Next(4));
                return bytes;
            case 3: // a number of the header (dimension or offset) replaced, the length prefix kept consistent
                return ReplaceInHeader(bytes, NumberPattern(), s_hostileNumbers[random.Next(s_hostileNumbers.Length)], random);
            case 4: // a dtype replaced
                return ReplaceInHeader(bytes, DTypePattern(), "\"dtype\":\"" + s_dtypes[random.Next(s_dtypes.Length)] + "\"", random);
            case 5: // a tensor's data shortened or lengthened
            {
                int at = headerEnd + random.Next(Math.Max(1, bytes.Length - headerEnd));
                int length = random.Next(1, 8);
                return random.Next(2) == 0 ? [.. bytes[..at], .. bytes[Math.Min(bytes.Length, at + length)..]] : [.. bytes[..at], .. new byte[length], .. bytes[at..]];
            }

            default: // a chunk of the header cut out or duplicated
            {
                int from = 8 + random.Next(Math.Max(1, headerEnd - 8)), length = Math.Min(random.Next(1, 48), bytes.Length - from);
                return random.Next(2) == 0
                    ? [.. bytes[..from], .. bytes[(from + length)..]]
                    : [.. bytes[..(from + length)], .. bytes[from..]];
            }
        }
    }

    private static byte[] ReplaceInHeader(byte[] bytes, Regex pattern, string replacement, Random random)
    {
        long declared = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)declared);
        MatchCollection matches = pattern.Matches(header);
        if (matches.Count == 0)
        {
            return bytes;
        }

        Match m = matches[random.Next(matches.Count)];
        string mutated = header[..m.Index] + replacement + header[(m.Index + m.Length)..];
        byte[] json = Encoding.UTF8.GetBytes(mutated);
        var result = new byte[8 + json.Length + bytes.Length - 8 - declared];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)json.Length);
        json.CopyTo(result, 8);
        bytes.AsSpan((int)(8 + declared)).CopyTo(result.AsSpan(8 + json.Length));
        return result;
    }

    [GeneratedRegex("[0-9]+")]
    private static partial Regex NumberPattern();

    [GeneratedRegex("\"dtype\":\"[A-Z0-9_]+\"")]
    private static partial Regex DTypePattern();
}
