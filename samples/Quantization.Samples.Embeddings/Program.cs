using Quantization;
using Quantization.Gguf;
using Quantization.Samples.Embeddings;
using Quantization.Samples.Embeddings.Model;

// Commands (see README.md):
//   convert [out.gguf]                      the package's ONNX model → GGUF (F32), with vocabulary and hyper-parameters
//   embed [--type T] "sentence" ...         prints each sentence's embedding (first values) and the cosines between them
//   compare [--types Q8_0,Q4_0,...] [--limit N]   the quality / size / speed table of every format and method
string command = args.Length > 0 ? args[0] : "help";
string[] rest = args.Skip(1).ToArray();
switch (command)
{
    case "convert":
        string output = rest.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? ModelCache.DefaultPath;
        ModelCache.Convert(output);
        Console.WriteLine($"wrote {output} ({new FileInfo(output).Length:N0} bytes)");
        return 0;
    case "embed":
        return Embed(rest);
    case "compare":
        return QualityComparison.Run(rest);
    default:
        Console.WriteLine("usage: convert [out.gguf] | embed [--type T] sentence... | compare [--types T1,T2] [--limit N] [--model path]");
        return command == "help" ? 0 : 1;
}

static int Embed(string[] args)
{
    QuantType? type = null;
    var sentences = new List<string>();
    for (int i = 0; i < args.Length; i++)
    {
        if (args[i] == "--type")
        {
            type = Enum.Parse<QuantType>(args[++i], ignoreCase: true);
        }
        else
        {
            sentences.Add(args[i]);
        }
    }

    using GgufFile file = ModelCache.Open();
    EncoderWeights weights = type is { } t ? EncoderWeights.Load(file, t, MatrixQuantization.Plain) : EncoderWeights.Load(file);
    var embedder = new SentenceEmbedder(ArcticTokenizer.FromGguf(file), new BertEncoder(weights));
    float[][] embeddings = [.. sentences.Select(embedder.Embed)];
    for (int i = 0; i < sentences.Count; i++)
    {
        Console.WriteLine($"{sentences[i]}: [{string.Join(", ", embeddings[i].Take(6).Select(v => v.ToString("F5")))}, ...]");
    }

    for (int i = 0; i < sentences.Count; i++)
    {
        for (int j = i + 1; j < sentences.Count; j++)
        {
            Console.WriteLine($"cos({i}, {j}) = {System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(embeddings[i], embeddings[j]):F4}");
        }
    }

    return 0;
}
