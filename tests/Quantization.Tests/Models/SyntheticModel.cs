using Quantization.Gguf;

namespace Quantization.Tests.Models;

/// <summary>
/// A tiny model of a real architecture written through <see cref="GgufWriter"/>: the metadata llama.cpp's loader needs
/// to read the hyper-parameters, and deterministic weights with the names and shapes of that architecture.
/// </summary>
internal sealed record SyntheticModel(string Architecture, int Embedding = 256, int Layers = 4, int Heads = 8, int KvHeads = 8,
                                      int FeedForward = 512, int Vocab = 320, int Experts = 0, QuantType Source = QuantType.F32,
                                      bool TiedEmbeddings = false, bool FusedQkv = false, int Seed = 1)
{
    public override string ToString() =>
        $"{Architecture} e{Embedding} l{Layers} h{Heads}/{KvHeads} ff{FeedForward}{(Experts > 0 ? $" x{Experts}" : "")} {Source}{(TiedEmbeddings ? " tied" : "")}{(FusedQkv ? " qkv" : "")}";

    /// <summary>The tensors as (name, dimensions, whether a weight matrix stored in <see cref="Source"/>), in file order.</summary>
    public IEnumerable<(string Name, long[] Dims, bool Matrix)> Tensors()
    {
        int kv = Embedding / Heads * KvHeads;
        yield return ("token_embd.weight", [Embedding, Vocab], true);
        for (int i = 0; i < Layers; i++)
        {
            string b = $"blk.{i}.";
            yield return (b + "attn_norm.weight", [Embedding], false);
            if (FusedQkv)
            {
                yield return (b + "attn_qkv.weight", [Embedding, Embedding + 2 * kv], true);
            }
            else
            {
                yield return (b + "attn_q.weight", [Embedding, Embedding], true);
                yield return (b + "attn_k.weight", [Embedding, kv], true);
                yield return (b + "attn_v.weight", [Embedding, kv], true);
            }

            yield return (b + "attn_output.weight", [Embedding, Embedding], true);
            yield return (b + "ffn_norm.weight", [Embedding], false);
            if (Experts > 0)
            {
                yield return (b + "ffn_gate_inp.weight", [Embedding, Experts], false);
                yield return (b + "ffn_gate_exps.weight", [Embedding, FeedForward, Experts], true);
                yield return (b + "ffn_up_exps.weight", [Embedding, FeedForward, Experts], true);
                yield return (b + "ffn_down_exps.weight", [FeedForward, Embedding, Experts], true);
            }
            else
            {
                yield return (b + "ffn_gate.weight", [Embedding, FeedForward], true);
                yield return (b + "ffn_up.weight", [Embedding, FeedForward], true);
                yield return (b + "ffn_down.weight", [FeedForward, Embedding], true);
            }
        }

        yield return ("output_norm.weight", [Embedding], false);
        if (!TiedEmbeddings)
        {
            yield return ("output.weight", [Embedding, Vocab], true);
        }
    }

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public void Write(string path)
    {
        using GgufWriter writer = GgufWriter.Create(path);
        string a = Architecture;
        writer.SetMetadata("general.architecture", GgufValue.FromString(a));
        writer.SetMetadata("general.name", GgufValue.FromString("synthetic " + a));
        writer.SetMetadata($"{a}.context_length", GgufValue.FromUInt32(512));
        writer.SetMetadata($"{a}.embedding_length", GgufValue.FromUInt32((uint)Embedding));
        writer.SetMetadata($"{a}.block_count", GgufValue.FromUInt32((uint)Layers));
        writer.SetMetadata($"{a}.feed_forward_length", GgufValue.FromUInt32((uint)FeedForward));
        writer.SetMetadata($"{a}.attention.head_count", GgufValue.FromUInt32((uint)Heads));
        writer.SetMetadata($"{a}.attention.head_count_kv", GgufValue.FromUInt32((uint)KvHeads));
        writer.SetMetadata($"{a}.attention.layer_norm_rms_epsilon", GgufValue.FromFloat32(1e-5f));
        writer.SetMetadata($"{a}.attention.layer_norm_epsilon", GgufValue.FromFloat32(1e-5f));
        writer.SetMetadata($"{a}.rope.dimension_count", GgufValue.FromUInt32((uint)(Embedding / Heads)));
        writer.SetMetadata($"{a}.vocab_size", GgufValue.FromUInt32((uint)Vocab));
        if (Experts > 0)
        {
            writer.SetMetadata($"{a}.expert_count", GgufValue.FromUInt32((uint)Experts));
            writer.SetMetadata($"{a}.expert_used_count", GgufValue.FromUInt32(2));
        }

        writer.SetMetadata("general.file_type", GgufValue.FromUInt32(Source switch { QuantType.F16 => 1u, QuantType.BF16 => 32u, _ => 0u }));
        var tensors = Tensors().ToList();
        foreach ((string name, long[] dims, bool matrix) in tensors)
        {
            writer.AddTensor(name, matrix ? Source : QuantType.F32, dims);
        }

        var random = new Random(Seed);
        foreach ((string name, long[] dims, bool matrix) in tensors)
        {
            long n = dims.Aggregate(1L, (x, y) => x * y);
            var values = new float[n];
            for (long i = 0; i < n; i++)
            {
                // Mostly small Gaussian-like values with an occasional outlier, as trained weights have.
                double u = random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5;
                values[i] = (float)(matrix ? u * 0.05 * (random.Next(64) == 0 ? 8 : 1) : 1 + 0.1 * u);
            }

            QuantType type = matrix ? Source : QuantType.F32;
            var bytes = new byte[Quantizer.GetByteCount(type, n)];
            Quantizer.Quantize(type, values, bytes, (int)dims[0]);
            writer.WriteTensorData(bytes);
        }

        writer.Finish();
    }
}
