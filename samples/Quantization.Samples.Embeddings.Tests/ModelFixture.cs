using Microsoft.ML.OnnxRuntime;
using Quantization.Gguf;
using Quantization.Samples.Embeddings.Model;
using Quantization.Samples.Embeddings.Onnx;

[assembly: AssemblyFixture(typeof(Quantization.Samples.Embeddings.Tests.ModelFixture))]

namespace Quantization.Samples.Embeddings.Tests;

/// <summary>The converted model, its float encoder and an ONNX Runtime session on the same ONNX file, made once per run.</summary>
public sealed class ModelFixture : IDisposable
{
    private readonly SessionOptions _options;

    public ModelFixture()
    {
        File = ModelCache.Open();
        Weights = EncoderWeights.Load(File);
        Tokenizer = ArcticTokenizer.FromGguf(File);
        OnnxModel = ModelPackage.ReadResource(ModelPackage.DefaultAssemblyPath, ModelPackage.ModelResource);
        _options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        Session = new InferenceSession(OnnxModel, _options);
    }

    public GgufFile File { get; }

    public EncoderWeights Weights { get; }

    public ArcticTokenizer Tokenizer { get; }

    public byte[] OnnxModel { get; }

    public InferenceSession Session { get; }

    /// <summary>Sentences of every length: short, punctuated, numeric, and long ones of a few hundred tokens.</summary>
    public static readonly string[] Sentences =
    [
        "Hello world.",
        "The cat sits on the mat.",
        "How do I reset my password if I no longer have access to my email?",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
        "In 1969, Apollo 11 landed two astronauts on the Moon; they stayed for about 21 hours.",
        "Quarterly revenue grew by 12% while operating costs fell, according to the report.",
        "Don't forget to water the tomatoes before you leave for the weekend!",
        "Unsupervised pretraining on large corpora lets small encoders produce useful sentence embeddings.",
        string.Join(" ", Enumerable.Repeat("The committee reviewed the proposal, asked for a revised budget, and scheduled another meeting for next month.", 6)),
        string.Join(" ", Enumerable.Range(0, 40).Select(i => $"Step {i}: measure the sample, record the temperature, and compare it with the previous reading.")),
    ];

    public void Dispose()
    {
        Session.Dispose();
        _options.Dispose();
        File.Dispose();
    }
}
