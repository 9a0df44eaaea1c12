using System.Runtime.InteropServices;
using Quantization.Cli;
using Quantization.Gguf;
using Quantization.Oracle;
using Quantization.Tests.Gguf;
using TestData = Quantization.Tests.Support.TestData;

namespace Quantization.Tests.Tools;

/// <summary>The <c>quant inspect</c>, <c>convert</c> and <c>plan</c> commands.</summary>
public sealed class GgufCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("quant-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = QuantCommandLine.Run(args, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void InspectShowsMetadataTensorsAndTotalsPerType()
    {
        File.WriteAllBytes(PathOf("m.gguf"), GgufSample.Create().WriteOurs());

        var (exitCode, output, error) = Run("inspect", PathOf("m.gguf"));

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        Assert.Empty(error);
        Assert.Contains("general.architecture", output, StringComparison.Ordinal);
        Assert.Contains("llama", output, StringComparison.Ordinal);
        Assert.Contains("String[4]", output, StringComparison.Ordinal);
        Assert.Contains("blk.0.attn_q.weight", output, StringComparison.Ordinal);
        Assert.Contains("64 x 5", output, StringComparison.Ordinal);
        Assert.Contains("4.500", output, StringComparison.Ordinal); // q4_K bits per weight
        Assert.Contains("Totals per type", output, StringComparison.Ordinal);
        Assert.Contains("total", output, StringComparison.Ordinal);
    }

    [Fact]
    public void InspectWritesStrictJson()
    {
        File.WriteAllBytes(PathOf("m.gguf"), GgufSample.Create().WriteOurs());

        var (exitCode, output, error) = Run("inspect", PathOf("m.gguf"), "--format", "json");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using System.Text.Json.JsonDocument json = System.Text.Json.JsonDocument.Parse(output);
        System.Text.Json.JsonElement root = json.RootElement;
        Assert.Equal(3u, root.GetProperty("version").GetUInt32());
        Assert.Contains(root.GetProperty("metadata").EnumerateArray(),
                        m => m.GetProperty("key").GetString() == "general.architecture" && m.GetProperty("value").GetString() == "llama");
        System.Text.Json.JsonElement q = root.GetProperty("tensors").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "blk.0.attn_q.weight");
        Assert.Equal([64L, 5L], q.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(8.5, q.GetProperty("bitsPerWeight").GetDouble());
        Assert.Equal("q8_0", q.GetProperty("type").GetString());
        Assert.Equal(5 * (64 / 32) * 34, q.GetProperty("bytes").GetInt64()); // 5 rows of two Q8_0 blocks
    }

    [Fact]
    public void InspectOfACorruptFileIsOneLineAndExitCodeOne()
    {
        byte[] bytes = GgufSample.Create().WriteOurs();
        bytes[16] = 0xFF; // metadata key count
        File.WriteAllBytes(PathOf("bad.gguf"), bytes);

        var (exitCode, output, error) = Run("inspect", PathOf("bad.gguf"));

        Assert.Equal(QuantCommandLine.ExitRuntimeError, exitCode);
        Assert.Empty(output);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("Invalid GGUF file", error, StringComparison.Ordinal);
        Assert.Contains("byte offset 16", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("inspect", "missing.gguf")]
    [InlineData("inspect")]
    [InlineData("convert", "missing.gguf", "out.gguf", "--type", "q4_K")]
    [InlineData("convert", "IN", "out.gguf", "--type", "q4_X")]
    [InlineData("convert", "IN", "out.gguf", "--type", "q8_K")]
    [InlineData("convert", "IN", "out.gguf", "--type", "nf4")]
    [InlineData("convert", "IN", "out.gguf")]
    [InlineData("convert", "IN", "out.gguf", "--type", "q4_0", "--threads", "0")]
    [InlineData("convert", "IN", "out.gguf", "--type", "q4_0", "--imatrix", "missing.dat")]
    [InlineData("plan")]
    [InlineData("plan", "--memory", "lots")]
    [InlineData("plan", "--memory", "32GB", "--headroom", "1.5")]
    [InlineData("plan", "--memory", "32GB", "--context", "0")]
    [InlineData("plan", "--memory", "32GB", "--kv-type", "q4_K")]
    [InlineData("plan", "--memory", "0GB")]
    [InlineData("report", "--rows", "0")]
    [InlineData("report", "--columns", "100")]
    [InlineData("report", "--threads", "0")]
    [InlineData("inspect", "IN", "--format", "xml")]
    [InlineData("plan", "--memory", "32GB", "--format", "yaml")]
    public void BadArgumentsExitWithTwo(params string[] args)
    {
        File.WriteAllBytes(PathOf("in.gguf"), GgufSample.Create().WriteOurs());
        string[] resolved = [.. args.Select(a => a switch { "IN" => PathOf("in.gguf"), "out.gguf" or "missing.gguf" or "missing.dat" => PathOf(a), _ => a })];

        var (exitCode, _, error) = Run(resolved);

        Assert.Equal(QuantCommandLine.ExitBadArguments, exitCode);
        Assert.NotEmpty(error);
        // One prefix for every command's diagnostics, on the first line.
        Assert.StartsWith("quant: error: ", error, StringComparison.Ordinal);
        Assert.False(File.Exists(PathOf("out.gguf")));
    }

    [Fact]
    public void PlanRecommendsTheLargestModelAtTheBestTierThenTablesPerModel()
    {
        var (exitCode, output, error) = Run("plan", "--memory", "32GB");

        Assert.Equal(QuantCommandLine.ExitSuccess, exitCode);
        Assert.Empty(error);
        Assert.Contains("Memory: 32.0 GB, 20% headroom: 25.6 GB for weights and KV cache.", output, StringComparison.Ordinal);
        Assert.Contains("KV cache: 8192 tokens in f16.", output, StringComparison.Ordinal);
        // 32 GB: Qwen2.5-32B at Q5_K_M, 23.25 GB weights + 64 × 8 × 128 × 2 × 8192 × 2 = 2.15 GB cache.
        Assert.Contains("Advice: 32B (Qwen2.5-32B) at Q5_K_M (near-lossless),", output, StringComparison.Ordinal);
        Assert.Contains("23.25 GB weights + 2.15 GB KV cache = 25.4 GB.", output, StringComparison.Ordinal);
        string[] lines = output.Split('\n');
        // The 70B only fits at 2 bits: listed after the good choices, with its warning in the note column.
        int firstTable = Array.FindIndex(lines, l => l.Contains("Recommendations", StringComparison.Ordinal));
        int row70 = Array.FindIndex(lines, firstTable, l => l.Contains(" 70B ", StringComparison.Ordinal));
        int row1 = Array.FindIndex(lines, firstTable, l => l.Contains(" 1B ", StringComparison.Ordinal));
        Assert.True(firstTable >= 0 && row1 > firstTable && row70 > row1, output);
        Assert.Contains("experimental", lines[row70], StringComparison.Ordinal);
        Assert.Contains("Warning: 70B at IQ2_S: experimental; needs an importance matrix.", output, StringComparison.Ordinal);
        // A table per model size; the bits-only q5_1-over-q5_K choice is gone: a legacy preset a K preset beats at equal
        // or smaller size is not on any table.
        foreach (string title in new[] { "123B (Mistral-Large-2", "70B (Llama-3.1-70B", "32B (Qwen2.5-32B", "14B (Qwen2.5-14B", "8B (Llama-3.1-8B", "3B (Llama-3.2-3B", "1B (Llama-3.2-1B" })
        {
            Assert.Contains(title, output, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(lines, l => l.Contains(" Q5_1 ", StringComparison.Ordinal) || l.Contains(" Q4_0 ", StringComparison.Ordinal));
        Assert.Equal(32e9, Cli.Gguf.PlanCommand.ParseBytes("32GB"));
        Assert.Equal(24.0 * (1L << 30), Cli.Gguf.PlanCommand.ParseBytes("24 GiB"));
        Assert.Null(Cli.Gguf.PlanCommand.ParseBytes("12 parsecs"));
    }

    [Fact]
    public void PlanTakesTheContextAndCacheType()
    {
        var (exitCode, output, error) = Run("plan", "--memory", "8GB", "--context", "32768", "--kv-type", "q8_0", "--format", "json");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using System.Text.Json.JsonDocument json = System.Text.Json.JsonDocument.Parse(output);
        System.Text.Json.JsonElement b8 = json.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("model").GetString() == "8B");
        // 32 layers × 2 × 32768 rows of 1024 values in Q8_0 (32 blocks of 34 bytes).
        Assert.Equal(32L * 2 * 32768 * 1088, b8.GetProperty("kvCacheBytes").GetInt64());
        Assert.Equal("q8_0", json.RootElement.GetProperty("kvCacheType").GetString());
    }

    [Fact]
    public void PlanWritesStrictJsonWithTheRecommendationsAndTables()
    {
        var (exitCode, output, error) = Run("plan", "--memory", "32GB", "--format", "json");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using System.Text.Json.JsonDocument json = System.Text.Json.JsonDocument.Parse(output);
        System.Text.Json.JsonElement root = json.RootElement;
        Assert.Equal(32e9, root.GetProperty("memoryBytes").GetDouble());
        Assert.Equal(25.6e9, root.GetProperty("usableBytes").GetDouble(), 1e-3);
        Assert.Equal(8192, root.GetProperty("contextLength").GetInt32());
        Assert.Equal("f16", root.GetProperty("kvCacheType").GetString());
        System.Text.Json.JsonElement first = root.GetProperty("recommendations")[0];
        Assert.Equal("32B", first.GetProperty("model").GetString());
        Assert.Equal("Q5_K_M", first.GetProperty("preset").GetString());
        Assert.Equal("near-lossless", first.GetProperty("tier").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, first.GetProperty("warning").ValueKind);
        Assert.Equal(2_147_483_648L, first.GetProperty("kvCacheBytes").GetInt64());
        Assert.Equal(first.GetProperty("weightsBytes").GetInt64() + first.GetProperty("kvCacheBytes").GetInt64(), first.GetProperty("totalBytes").GetInt64());
        Assert.Equal(0.0569, first.GetProperty("perplexityDelta").GetDouble());
        Assert.False(first.GetProperty("perplexityDeltaEstimated").GetBoolean());
        Assert.True(first.GetProperty("fits").GetBoolean());
        System.Text.Json.JsonElement lossy = root.GetProperty("recommendations").EnumerateArray().Single(r => r.GetProperty("model").GetString() == "70B");
        Assert.Equal("experimental", lossy.GetProperty("warning").GetString());
        System.Text.Json.JsonElement[] models = [.. root.GetProperty("models").EnumerateArray()];
        Assert.Equal(["123B", "70B", "32B", "14B", "8B", "3B", "1B"], models.Select(m => m.GetProperty("model").GetString()));
        System.Text.Json.JsonElement q4km = models[4].GetProperty("presets").EnumerateArray().Single(p => p.GetProperty("preset").GetString() == "Q4_K_M");
        Assert.InRange(q4km.GetProperty("bitsPerWeight").GetDouble(), 4.8, 5.0);
        Assert.True(q4km.GetProperty("fits").GetBoolean());
        Assert.DoesNotContain("Infinity", output, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
    }

    /// <summary>A small model written by ggml: quantizable F32 / F16 / BF16 matrices, and tensors convert must copy.</summary>
    private (string Path, List<(string Name, int Type, long[] Ne, byte[] Data)> Tensors, List<GgmlKeyValue> Metadata) WriteGgmlModel()
    {
        static byte[] Bytes<T>(T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        float[] q = TestData.TransformerLike(1, 256 * 8);
        float[] down = TestData.TransformerLike(2, 512 * 4);
        float[] bf = TestData.TransformerLike(3, 256 * 2);
        var tensors = new List<(string, int, long[], byte[])>
        {
            ("token_embd.weight", (int)QuantType.Q8_0, [256, 2], new byte[2 * 8 * 34]), // already quantized: copied
            ("blk.0.attn_norm.weight", (int)QuantType.F32, [256], Bytes(TestData.Uniform(4, 256, 0.5, 1.5))), // 1-D: copied
            ("blk.0.attn_q.weight", (int)QuantType.F32, [256, 8], Bytes(q)),
            ("blk.0.ffn_down.weight", (int)QuantType.F16, [512, 4], Bytes(down.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray())),
            ("blk.0.odd.weight", (int)QuantType.F32, [100, 3], Bytes(TestData.Uniform(5, 300, -1, 1))), // rows not a block multiple: copied
            ("output.weight", (int)QuantType.BF16, [256, 2], Bytes(bf.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray())),
        };
        var metadata = new List<GgmlKeyValue>
        {
            GgufSample.ToGgml("general.architecture", GgufValue.FromString("llama")),
            GgufSample.ToGgml("general.name", GgufValue.FromString("tiny")),
            GgufSample.ToGgml("general.file_type", GgufValue.FromUInt32(0)),
            GgufSample.ToGgml("llama.embedding_length", GgufValue.FromUInt32(256)),
            GgufSample.ToGgml("tokenizer.ggml.tokens", GgufValue.FromArray<string>(["<s>", "a", "b"])),
            GgufSample.ToGgml("tokenizer.ggml.scores", GgufValue.FromArray<float>([0f, -1f, -2f])),
        };
        string path = PathOf("model-f32.gguf");
        GgmlGguf.Write(path, metadata, tensors);
        return (path, tensors, metadata);
    }

    private static float[] Floats((string Name, int Type, long[] Ne, byte[] Data) t) => t.Type switch
    {
        (int)QuantType.F32 => MemoryMarshal.Cast<byte, float>(t.Data).ToArray(),
        _ => GgmlNative.Dequantize(t.Type, t.Data), // ggml's own fp16 / bf16 -> fp32
    };

    [Theory]
    [InlineData("q4_K", "")]
    [InlineData("q4_K", "gguf")]
    [InlineData("q5_K", "dat")]
    [InlineData("q3_K", "")]
    [InlineData("q5_K", "gguf")]
    public void ConvertQuantizesLikeGgmlAndTheOutputLoadsInGgml(string typeName, string imatrixFormat)
    {
        GgufInteropTests.RequireGgml();
        var model = WriteGgmlModel();
        Assert.True(QuantFormat.TryParse(typeName, out QuantFormat? target));
        var importance = new Dictionary<string, float[]>();
        List<string> args = ["convert", model.Path, PathOf("out.gguf"), "--type", typeName, "--threads", "2"];
        if (imatrixFormat == "dat")
        {
            // llama.cpp's legacy imatrix: int32 entries; per entry int32 name length, name, int32 ncall, int32 nval,
            // nval floats holding mean x ncall; the importance is value / ncall.
            float[] stored = TestData.Importance(8, 256, withZeros: true).Select(v => v * 3).ToArray();
            byte[] name = System.Text.Encoding.UTF8.GetBytes("blk.0.attn_q.weight");
            using (var w = new BinaryWriter(File.Create(PathOf("imatrix.dat"))))
            {
                w.Write(1);
                w.Write(name.Length);
                w.Write(name);
                w.Write(7);
                w.Write(256);
                foreach (float v in stored)
                {
                    w.Write(v);
                }

                w.Write(12); // last chunk
                w.Write(0);  // dataset name length
            }

            importance["blk.0.attn_q.weight"] = stored.Select(v => v / 7f).ToArray();
            args.AddRange(["--imatrix", PathOf("imatrix.dat")]);
        }

        if (imatrixFormat == "gguf")
        {
            // A llama.cpp GGUF imatrix: per-column sums of squares and a count; the importance is sums / count.
            using (var writer = GgufWriter.Create(PathOf("imatrix.gguf")))
            {
                writer.SetMetadata("general.type", GgufValue.FromString("imatrix"));
                float[] sums = TestData.Importance(7, 256, withZeros: true).Select(v => v * 40).ToArray();
                writer.AddTensor("blk.0.attn_q.weight.in_sum2", QuantType.F32, [256, 1]);
                writer.AddTensor("blk.0.attn_q.weight.counts", QuantType.F32, [1, 1]);
                writer.WriteTensorData(MemoryMarshal.AsBytes(sums.AsSpan()));
                writer.WriteTensorData(BitConverter.GetBytes(40f));
                writer.Finish();
                importance["blk.0.attn_q.weight"] = sums.Select(v => v / 40f).ToArray();
            }

            args.AddRange(["--imatrix", PathOf("imatrix.gguf")]);
        }

        var (exitCode, _, error) = Run([.. args]);

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        Assert.Contains("3 tensors quantized, 3 copied", error, StringComparison.Ordinal);
        GgmlGgufContents? loaded = GgmlGguf.Read(PathOf("out.gguf"));
        Assert.NotNull(loaded);
        byte[] file = File.ReadAllBytes(PathOf("out.gguf"));

        // Metadata: every input key unchanged and in order, except the two convert updates.
        Assert.Equal(model.Metadata.Count + 1, loaded.Metadata.Length);
        for (int i = 0; i < model.Metadata.Count; i++)
        {
            GgmlKeyValue expected = model.Metadata[i].Key == "general.file_type"
                ? GgufSample.ToGgml("general.file_type", GgufValue.FromUInt32(Cli.Gguf.ModelConverter.FileType(target.Type)))
                : model.Metadata[i];
            GgufSample.AssertSame(expected, loaded.Metadata[i]);
        }

        GgufSample.AssertSame(GgufSample.ToGgml("general.quantization_version", GgufValue.FromUInt32(2)), loaded.Metadata[^1]);

        Assert.Equal(model.Tensors.Count, loaded.Tensors.Length);
        for (int i = 0; i < model.Tensors.Count; i++)
        {
            var source = model.Tensors[i];
            GgmlTensorEntry actual = loaded.Tensors[i];
            byte[] bytes = file.AsSpan((int)(loaded.DataOffset + actual.Offset), (int)actual.Size).ToArray();
            Assert.Equal(source.Name, actual.Name);
            bool quantizable = source.Ne.Length == 2 && source.Type is 0 or 1 or 30 && source.Ne[0] % target.BlockSize == 0;
            if (quantizable)
            {
                Assert.Equal((int)target.Type, actual.Type);
                // x86-64 ggml is the byte reference; the arm64 build is compiled with FMA contraction (docs/testing.md#the-oracle), so
                // there the library's quantizer (held to the x86 bytes by the golden hashes) is the expectation.
                float[] floats = Floats(source);
                float[]? imatrix = importance.GetValueOrDefault(source.Name);
                byte[] expected;
                if (GgmlNative.IsByteReference)
                {
                    expected = GgmlNative.QuantizeChunk((int)target.Type, floats, (int)source.Ne[0], imatrix);
                }
                else
                {
                    expected = new byte[Quantizer.GetByteCount(target.Type, floats.Length)];
                    Quantizer.Quantize(target.Type, floats, expected, (int)source.Ne[0], imatrix);
                }

                Assert.Equal(expected, bytes);
            }
            else
            {
                Assert.Equal(source.Type, actual.Type);
                Assert.Equal(source.Data, bytes);
            }
        }
    }

    /// <summary>
    /// The IQ2_XXS preset with an imatrix (GGUF, or legacy .dat with its chunk-count and data-set trailer): the file is
    /// the library's (held to llama.cpp's by the preset oracle tests) for the same importance, plus the
    /// <c>quantize.imatrix.*</c> keys llama-quantize writes: the file argument, the first data set, the entry count and
    /// the chunk count.
    /// </summary>
    [Theory]
    [InlineData("gguf")]
    [InlineData("dat")]
    public void ConvertToTheIq2XxsPresetWithAnImatrixWritesTheLibrarysFile(string imatrixFormat)
    {
        var model = new Models.SyntheticModel("llama", Layers: 2);
        model.Write(PathOf("model.gguf"));
        Dictionary<string, float[]> importance = Models.PresetOracleTests.ImportanceFor(model);
        string imatrixPath = PathOf("imatrix." + imatrixFormat);
        if (imatrixFormat == "gguf")
        {
            using var writer = GgufWriter.Create(imatrixPath);
            writer.SetMetadata("general.type", GgufValue.FromString("imatrix"));
            writer.SetMetadata("imatrix.datasets", GgufValue.FromArray<string>(["calibration-a.txt", "calibration-b.txt"]));
            writer.SetMetadata("imatrix.chunk_count", GgufValue.FromUInt32(17));
            writer.SetMetadata("imatrix.chunk_size", GgufValue.FromUInt32(512));
            foreach ((string name, float[] values) in importance)
            {
                writer.AddTensor(name + ".in_sum2", QuantType.F32, [values.Length, 1]);
                writer.AddTensor(name + ".counts", QuantType.F32, [1, 1]);
            }

            foreach ((string name, float[] values) in importance)
            {
                // Sums of squares over 4 calls: the importance read back is sums / 4 (exact for these powers of two).
                writer.WriteTensorData(MemoryMarshal.AsBytes(values.Select(v => v * 4).ToArray().AsSpan()));
                writer.WriteTensorData(BitConverter.GetBytes(4f));
            }

            writer.Finish();
        }
        else
        {
            // Legacy layout: entries; per entry name length, name, ncall, nval, values (mean x ncall); then the last
            // chunk count and the data set's name.
            using var w = new BinaryWriter(File.Create(imatrixPath));
            w.Write(importance.Count);
            foreach ((string name, float[] values) in importance)
            {
                byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(name);
                w.Write(utf8.Length);
                w.Write(utf8);
                w.Write(4);
                w.Write(values.Length);
                foreach (float v in values)
                {
                    w.Write(v * 4);
                }
            }

            w.Write(17);
            byte[] dataset = System.Text.Encoding.UTF8.GetBytes("calibration-a.txt");
            w.Write(dataset.Length);
            w.Write(dataset);
        }

        var (exitCode, _, error) = Run("convert", PathOf("model.gguf"), PathOf("out.gguf"), "--type", "IQ2_XXS", "--imatrix", imatrixPath, "--threads", "2");

        Assert.True(exitCode == QuantCommandLine.ExitSuccess, error);
        using (GgufFile source = GgufFile.Open(PathOf("model.gguf")))
        {
            Quantization.Models.ModelQuantizer.Quantize(source, PathOf("expected.gguf"), new Quantization.Models.QuantizationRecipe(Quantization.Models.QuantizationPreset.IQ2_XXS),
                new Quantization.Models.ModelQuantizationOptions
                {
                    Importance = importance,
                    ImportanceSource = new Quantization.Models.ImportanceSource(imatrixPath, "calibration-a.txt", importance.Count, 17),
                },
                cancellationToken: TestContext.Current.CancellationToken);
        }

        Assert.Equal(File.ReadAllBytes(PathOf("expected.gguf")), File.ReadAllBytes(PathOf("out.gguf")));
        using GgufFile written = GgufFile.Open(PathOf("out.gguf"));
        Assert.Equal(QuantType.IQ2_XXS, written.GetTensor("blk.0.attn_q.weight").Type);
        Assert.Equal(imatrixPath, written.GetString("quantize.imatrix.file"));
        Assert.Equal("calibration-a.txt", written.GetString("quantize.imatrix.dataset"));
        Assert.Equal((uint)importance.Count, written.GetUInt32("quantize.imatrix.entries_count"));
        Assert.Equal(17u, written.GetUInt32("quantize.imatrix.chunks_count"));
        Assert.Equal(19u, written.GetUInt32("general.file_type"));
    }

    [Fact]
    public void ConvertToIq2XxsWithoutAnImatrixFailsWithAClearError()
    {
        new Models.SyntheticModel("llama", Layers: 2).Write(PathOf("model.gguf"));

        var (exitCode, _, error) = Run("convert", PathOf("model.gguf"), PathOf("out.gguf"), "--type", "iq2_xxs");

        Assert.Equal(QuantCommandLine.ExitRuntimeError, exitCode);
        Assert.Contains("quant: error: IQ2_XXS needs an importance matrix", error, StringComparison.Ordinal);
        Assert.Contains("blk.0.", error, StringComparison.Ordinal);
        Assert.Contains("--imatrix", error, StringComparison.Ordinal);
        Assert.False(File.Exists(PathOf("out.gguf")));
        Assert.False(File.Exists(PathOf("out.gguf.tmp")));
    }

    [Fact]
    public void ConvertOfACorruptModelFailsWithoutLeavingAnOutput()
    {
        byte[] bytes = GgufSample.Create().WriteOurs();
        Array.Resize(ref bytes, bytes.Length - 100);
        File.WriteAllBytes(PathOf("bad.gguf"), bytes);

        var (exitCode, _, error) = Run("convert", PathOf("bad.gguf"), PathOf("out.gguf"), "--type", "q4_0");

        Assert.Equal(QuantCommandLine.ExitRuntimeError, exitCode);
        Assert.Contains("Invalid GGUF file", error, StringComparison.Ordinal);
        Assert.False(File.Exists(PathOf("out.gguf")));
        Assert.False(File.Exists(PathOf("out.gguf.tmp")));
    }
}
