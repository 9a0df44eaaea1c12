using Quantization;
using Quantization.Fuzz;
using Quantization.Gguf;
using Quantization.SafeTensors;
using SharpFuzz;

// Fuzzes a file reader: any input must load (and then be fully readable) or be rejected with InvalidDataException.
// Any other exception, a crash or a hang is a finding. The reader is the GGUF one unless "--format safetensors"
// comes first.
//
//   dotnet run --project fuzz/Quantization.Fuzz -c Release -- [--format gguf|safetensors] --write-corpus DIR   seed files
//   dotnet run --project fuzz/Quantization.Fuzz -c Release -- [--format gguf|safetensors] --replay PATH...     run inputs without instrumentation
//   (under afl-fuzz, no other arguments: SharpFuzz's out-of-process loop; --libfuzzer for libFuzzer-dotnet)
bool safeTensors = false;
if (args.FirstOrDefault() == "--format")
{
    string format = args.ElementAtOrDefault(1) ?? "";
    if (format is not ("gguf" or "safetensors"))
    {
        Console.Error.WriteLine($"unknown format '{format}': use gguf or safetensors");
        return 2;
    }

    safeTensors = format == "safetensors";
    args = args[2..];
}

Action<byte[]> target = safeTensors ? SafeTensorsTarget.Run : Target.Run;
switch (args.FirstOrDefault())
{
    case "--write-corpus":
        if (safeTensors)
        {
            SafeTensorsCorpus.Write(args.ElementAtOrDefault(1) ?? "corpus-safetensors");
        }
        else
        {
            Corpus.Write(args.ElementAtOrDefault(1) ?? "corpus");
        }

        break;
    case "--replay":
        foreach (string path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]))
        {
            target(File.ReadAllBytes(path));
            Console.WriteLine($"ok {path}");
        }

        break;
    case "--libfuzzer":
        Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
        break;
    default:
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            target(memory.ToArray());
        });
        break;
}

return 0;

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

    /// <summary>The safetensors target: parse, then touch every tensor's bytes, last row and floats.</summary>
    internal static class SafeTensorsTarget
    {
        public static void Run(byte[] input)
        {
            try
            {
                using SafeTensorsFile file = SafeTensorsFile.Read(input);
                foreach (KeyValuePair<string, string> kv in file.Metadata)
                {
                    _ = kv.Key.Length + kv.Value.Length;
                }

                foreach (SafeTensorsTensorInfo tensor in file.Tensors)
                {
                    SafeTensorsTensorView view = file.GetTensorView(tensor);
                    if (!view.FitsInSpan)
                    {
                        continue;
                    }

                    ReadOnlySpan<byte> bytes = view.Span;
                    if (!bytes.IsEmpty)
                    {
                        _ = bytes[0] ^ bytes[^1];
                    }

                    if (tensor.RowByteCount >= 0 && view.Rows > 0 && view.MaxRowsPerSpan > 0)
                    {
                        _ = view.GetRows(view.Rows - 1, 1).Length;
                    }

                    if (view.CanReadAsSingle && tensor.ElementCount <= 1 << 16)
                    {
                        view.ToSingle(new float[tensor.ElementCount]);
                    }
                }
            }
            catch (InvalidDataException)
            {
                // The one expected failure.
            }
        }
    }

    /// <summary>Small valid safetensors files: every dtype, metadata, scalars and empty tensors.</summary>
    internal static class SafeTensorsCorpus
    {
        public static void Write(string directory)
        {
            Directory.CreateDirectory(directory);
            int files = 0;
            foreach (IGrouping<int, SafeTensorsDType> group in SafeTensorsDTypes.All.GroupBy(d => (int)d % 4))
            {
                using SafeTensorsWriter writer = SafeTensorsWriter.Create(Path.Combine(directory, $"dtypes{group.Key}.safetensors"));
                writer.SetMetadata("format", "pt");
                foreach (SafeTensorsDType dtype in group)
                {
                    writer.AddTensor($"model.layers.0.{dtype}.weight", dtype, [2, 4], new byte[8 * SafeTensorsDTypes.GetBitSize(dtype) / 8]);
                }

                writer.AddTensor("scalar", SafeTensorsDType.F32, [], new byte[4]);
                writer.AddTensor("empty", SafeTensorsDType.BF16, [0, 8], Array.Empty<byte>());
                writer.Finish();
                files++;
            }

            Console.WriteLine($"wrote {files} files to {directory}");
        }
    }
}
