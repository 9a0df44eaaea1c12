namespace Quantization.Samples.Embeddings;

public static class QualityComparison
{
    public static int Run(string[] args) => 0;
}
