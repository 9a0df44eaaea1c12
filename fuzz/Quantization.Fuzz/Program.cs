using Quantization;
using Quantization.Fuzz;
using Quantization.Gguf;
using SharpFuzz;

// Fuzzes the GGUF reader: any input must load (and then be fully readable) or be rejected with InvalidDataException.
// Any other exception, a crash or a hang is a finding.
//
//   dotnet run --project fuzz/Quantization.Fuzz -c Release -- --write-corpus DIR   seed files (valid GGUF)
//   dotnet run --project fuzz/Quantization.Fuzz -c Release -- --replay PATH...     run inputs without instrumentation
//   (under afl-fuzz, no arguments: SharpFuzz's out-of-process loop; --libfuzzer for libFuzzer-dotnet)
switch (args.FirstOrDefault())
{
    case "--write-corpus":
        Corpus.Write(args.ElementAtOrDefault(1) ?? "corpus");
        break;
    case "--replay":
        foreach (string path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]))
        {
            Target.Run(File.ReadAllBytes(path));
            Console.WriteLine($"ok {path}");
        }

        break;
    case "--libfuzzer":
        Fuzzer.LibFuzzer.Run(span => Target.Run(span.ToArray()));
        break;
    default:
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            Target.Run(memory.ToArray());
        });
        break;
}

namespace Quantization.Fuzz
{
    /// <summary>The fuzz target: parse, then touch every value and every tensor byte range.</summary>
    internal static class Target
    {
        public static void Run(byte[] input)
        {
            try
            {
                using GgufFile file = GgufFile.Read(input);
                foreach (KeyValuePair<string, GgufValue> kv in file.Metadata)
                {
                    _ = kv.Value.ToString();
                }

                foreach (GgufTensorInfo tensor in file.Tensors)
                {
                    GgufTensorView view = file.GetTensorView(tensor);
                    if (view.Rows > 0 && view.MaxRowsPerSpan > 0)
                    {
                        ReadOnlySpan<byte> rows = view.GetRows(view.Rows - 1, 1);
                        if (!rows.IsEmpty)
                        {
                            _ = rows[0] ^ rows[^1];
                        }
                    }
                }
            }
            catch (InvalidDataException)
            {
                // The one expected failure.
            }
        }
    }

    /// <summary>Small valid files covering every value type, nested arrays, alignments and tensor types.</summary>
    internal static class Corpus
    {
        public static void Write(string directory)
        {
            Directory.CreateDirectory(directory);
            WriteOne(Path.Combine(directory, "scalars.gguf"), 32, w =>
            {
                w.SetMetadata("general.architecture", GgufValue.FromString("llama"));
                w.SetMetadata("u8", GgufValue.FromUInt8(1));
                w.SetMetadata("i16", GgufValue.FromInt16(-2));
                w.SetMetadata("f64", GgufValue.FromFloat64(0.5));
                w.SetMetadata("b", GgufValue.FromBool(true));
            }, (QuantType.F32, [4, 2]));
            WriteOne(Path.Combine(directory, "arrays.gguf"), 8, w =>
            {
                w.SetMetadata("tokens", GgufValue.FromArray<string>(["<s>", "a"]));
                w.SetMetadata("scores", GgufValue.FromArray<float>([0f, 1f]));
                w.SetMetadata("nested", GgufValue.FromArray<GgufValue>([GgufValue.FromArray<int>([1])]));
            }, (QuantType.Q4_0, [32, 2]), (QuantType.Q8_0, [32]));
            WriteOne(Path.Combine(directory, "kquant.gguf"), 64, _ => { }, (QuantType.Q4_K, [256, 1]), (QuantType.F16, [2, 2, 2]));
            Console.WriteLine($"wrote 3 files to {directory}");
        }

        private static void WriteOne(string path, uint alignment, Action<GgufWriter> metadata, params (QuantType Type, long[] Dims)[] tensors)
        {
            using GgufWriter writer = GgufWriter.Create(path);
            writer.SetMetadata(GgufConstants.AlignmentKey, GgufValue.FromUInt32(alignment));
            metadata(writer);
            long bytes = 0;
            for (int i = 0; i < tensors.Length; i++)
            {
                bytes += writer.AddTensor($"t{i}", tensors[i].Type, tensors[i].Dims);
            }

            writer.WriteTensorData(new byte[bytes]);
            writer.Finish();
        }
    }
}
