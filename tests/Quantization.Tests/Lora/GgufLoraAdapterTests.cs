using Quantization.Gguf;
using Quantization.Lora;

namespace Quantization.Tests.Lora;

/// <summary>llama.cpp GGUF LoRA adapters: written here from known floats with <see cref="GgufWriter"/>, read back.</summary>
public sealed class GgufLoraAdapterTests
{
    private static LoraAdapterSet Load(byte[] file)
    {
        using GgufFile gguf = GgufFile.Read(file);
        return LoraAdapterSet.FromGguf(gguf);
    }

    [Fact]
    public void RoundTripGivesTheWrittenFactorsAndAlphaOverRank()
    {
        LoraReference.Factors q = LoraReference.Random(1, 8, 64, 32, 0);
        LoraReference.Factors v = LoraReference.Random(2, 8, 64, 16, 0);
        byte[] file = LoraGgufFiles.Write(LoraGgufFiles.AdapterMetadata(alpha: 16),
            [.. LoraGgufFiles.Pair("blk.0.attn_q.weight", q), .. LoraGgufFiles.Pair("blk.0.attn_v.weight", v, f16: true)]);

        LoraAdapterSet set = Load(file);

        Assert.Equal(["blk.0.attn_q.weight", "blk.0.attn_v.weight"], set.Keys);
        Assert.Equal("llama", set.Architecture);
        LoraAdapter aq = set["blk.0.attn_q.weight"];
        Assert.Equal((8, 64, 32, 2f), (aq.Rank, aq.InputSize, aq.OutputSize, aq.Scaling)); // alpha 16 / r 8
        Assert.Equal(q.A, aq.A.ToArray());
        for (int o = 0; o < 32; o++)
        {
            for (int k = 0; k < 8; k++)
            {
                Assert.Equal(q.B[o * 8 + k], aq.GetB(o, k));
            }
        }

        // F16 storage: the values .NET's own half conversion gives.
        LoraAdapter av = set["blk.0.attn_v.weight"];
        Assert.Equal(v.A.Select(x => (float)(Half)x), av.A.ToArray());
        Assert.Equal((float)(Half)v.B[5 * 8 + 3], av.GetB(5, 3));
    }

    [Fact]
    public void WithoutAlphaTheScalingIsOne()
    {
        byte[] file = LoraGgufFiles.Write(LoraGgufFiles.AdapterMetadata(alpha: null), LoraGgufFiles.Pair("w", LoraReference.Random(3, 4, 32, 8, 0)));
        Assert.Equal(1f, Load(file)["w"].Scaling);
    }

    [Fact]
    public void TokenEmbeddingPairIsTurnedToOutputsByInputs()
    {
        // llama.cpp's embedding pair: lora_a [r, vocab], lora_b [r, embd]; delta[v, e] = Σₖ lora_a[v, k]·lora_b[e, k].
        const int r = 2, vocab = 3, embd = 4;
        float[] loraA = [1, 2, 3, 4, 5, 6]; // vocab rows of r
        float[] loraB = [1, 0, 0, 1, 1, 1, 2, -1]; // embd rows of r
        byte[] file = LoraGgufFiles.Write(LoraGgufFiles.AdapterMetadata(alpha: 2),
        [
            new("token_embd.weight.lora_a", QuantType.F32, [r, vocab], LoraGgufFiles.F32Bytes(loraA)),
            new("token_embd.weight.lora_b", QuantType.F32, [r, embd], LoraGgufFiles.F32Bytes(loraB)),
        ]);

        LoraAdapter adapter = Load(file)["token_embd.weight"];

        Assert.Equal((r, embd, vocab, 1f), (adapter.Rank, adapter.InputSize, adapter.OutputSize, adapter.Scaling));
        for (int v = 0; v < vocab; v++)
        {
            for (int e = 0; e < embd; e++)
            {
                float expected = (loraA[v * r] * loraB[e * r]) + (loraA[v * r + 1] * loraB[e * r + 1]);
                float actual = (adapter.GetB(v, 0) * adapter.A[e]) + (adapter.GetB(v, 1) * adapter.A[embd + e]);
                Assert.Equal(expected, actual);
            }
        }
    }

    [Fact]
    public void NormVectorsAreSkippedLikeLlamaCpp()
    {
        byte[] file = LoraGgufFiles.Write(LoraGgufFiles.AdapterMetadata(alpha: 4),
            [.. LoraGgufFiles.Pair("w", LoraReference.Random(3, 4, 32, 8, 0)), new("blk.0.attn_norm.weight", QuantType.F32, [32], new byte[128])]);
        Assert.Equal(["w"], Load(file).Keys);
    }

    public static TheoryData<string> BadFiles() => ["missing lora_b", "not an adapter", "not lora", "ranks disagree", "unexpected tensor", "rank 0", "3-D", "alpha is a string", "NaN"];

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadAdaptersAreInvalidDataExceptions(string problem)
    {
        LoraReference.Factors f = LoraReference.Random(4, 4, 32, 8, 0);
        var metadata = LoraGgufFiles.AdapterMetadata(alpha: 8).ToList();
        List<LoraGgufFiles.Tensor> tensors = [.. LoraGgufFiles.Pair("w", f)];
        switch (problem)
        {
            case "missing lora_b": tensors.RemoveAt(1); break;
            case "not an adapter": metadata[1] = new("general.type", GgufValue.FromString("model")); break;
            case "not lora": metadata[2] = new("adapter.type", GgufValue.FromString("control_vector")); break;
            case "ranks disagree": tensors[1] = tensors[1] with { Dimensions = [2, 16], Data = new byte[2 * 16 * 4] }; break;
            case "unexpected tensor": tensors.Add(new("w.bias", QuantType.F32, [8], new byte[32])); break;
            case "rank 0": tensors = [new("w.lora_a", QuantType.F32, [32, 0], []), new("w.lora_b", QuantType.F32, [0, 8], [])]; break;
            case "3-D": tensors[0] = tensors[0] with { Dimensions = [32, 2, 2] }; break;
            case "alpha is a string": metadata[3] = new("adapter.lora.alpha", GgufValue.FromString("8")); break;
            case "NaN": tensors[0] = tensors[0] with { Data = LoraGgufFiles.F32Bytes([.. f.A.Take(f.A.Length - 1), float.NaN]) }; break;
        }

        byte[] file = LoraGgufFiles.Write(metadata, tensors);
        Assert.Throws<InvalidDataException>(() => Load(file));
    }
}
