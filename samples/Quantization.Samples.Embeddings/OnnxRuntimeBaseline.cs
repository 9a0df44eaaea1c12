using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Quantization.Gguf;
using Quantization.Samples.Embeddings.Model;
using Quantization.Samples.Embeddings.Onnx;

namespace Quantization.Samples.Embeddings;

/// <summary>
/// The package's float ONNX model run by ONNX Runtime on one thread (intra- and inter-op), on the same token ids: the
/// speed the encoder is compared with. Used by the compare command only.
/// </summary>
internal static class OnnxRuntimeBaseline
{
    public static (float[][] Embeddings, double SentencesPerSecond) EmbedAll(GgufFile file, long[][] sentences)
    {
        int hidden = BertConfig.FromGguf(file).Hidden;
        byte[] model = ModelPackage.ReadResource(ModelPackage.DefaultAssemblyPath, ModelPackage.ModelResource);
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        QualityComparison.WarmUp(sentences, ids => Embed(session, ids, hidden));
        var embeddings = new float[sentences.Length][];
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < sentences.Length; i++)
        {
            embeddings[i] = Embed(session, sentences[i], hidden);
        }

        return (embeddings, sentences.Length / Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    private static float[] Embed(InferenceSession session, long[] ids, int hidden)
    {
        int[] shape = [1, ids.Length];
        var mask = new long[ids.Length];
        Array.Fill(mask, 1L);
        NamedOnnxValue[] inputs =
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Length], shape)),
        ];
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = session.Run(inputs);
        return Pooling.ClsNormalized(((DenseTensor<float>)outputs.First().Value).Buffer.Span, hidden);
    }
}
