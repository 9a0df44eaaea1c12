using System.Diagnostics;
using System.Globalization;
using Quantization.SafeTensors;

namespace Quantization.Benchmarks;

/// <summary>
/// <c>--checkpoint-open [MiB]</c>: opening a sharded safetensors checkpoint costs its headers, not its tensors. Writes a
/// synthetic checkpoint of four shards of BF16 4096 × 4096 matrices (1 GiB by default) and an index, then times, in
/// fresh objects each round, opening the index, the first tensor's view as a matrix (its shard opened lazily) and that
/// matrix's first single-thread MatVec, against the MatVec alone once warm.
/// </summary>
internal static class CheckpointOpenBenchmark
{
    private const int Side = 4096;

    public static int Run(int mebibytes)
    {
        string dir = Directory.CreateTempSubdirectory("quant-open-").FullName;
        try
        {
            int matrices = Math.Max(4, mebibytes * 1024 * 1024 / (Side * Side * 2));
            int perShard = (matrices + 3) / 4;
            var map = new List<string>();
            var matrixBytes = new byte[Side * Side * 2];
            new Random(7).NextBytes(matrixBytes);
            for (int i = 0; i < matrixBytes.Length; i += 2)
            {
                matrixBytes[i + 1] &= 0x3F; // finite BF16 values of modest size
            }

            for (int shard = 0; shard < 4; shard++)
            {
                string file = $"model-{shard + 1:00000}-of-00004.safetensors";
                using SafeTensorsWriter writer = SafeTensorsWriter.Create(Path.Combine(dir, file));
                for (int m = shard * perShard; m < Math.Min(matrices, (shard + 1) * perShard); m++)
                {
                    string name = $"model.layers.{m}.mlp.down_proj.weight";
                    writer.AddTensor(name, SafeTensorsDType.BF16, [Side, Side], matrixBytes);
                    map.Add($"\"{name}\": \"{file}\"");
                }

                writer.Finish();
            }

            File.WriteAllText(Path.Combine(dir, SafeTensorsCheckpoint.IndexFileName), "{ \"metadata\": {}, \"weight_map\": { " + string.Join(", ", map) + " } }");
            long total = Directory.EnumerateFiles(dir).Sum(f => new FileInfo(f).Length);
            float[] x = new float[Side], y = new float[Side];
            Array.Fill(x, 0.5f);
            double bestOpen = double.MaxValue, bestFirst = double.MaxValue, bestWarm = double.MaxValue;
            for (int round = 0; round < 7; round++)
            {
                var clock = Stopwatch.StartNew();
                using SafeTensorsCheckpoint checkpoint = SafeTensorsCheckpoint.Open(Path.Combine(dir, SafeTensorsCheckpoint.IndexFileName));
                QuantizedMatrix matrix = checkpoint.GetTensorView("model.layers.0.mlp.down_proj.weight").AsMatrix();
                double open = clock.Elapsed.TotalMilliseconds;
                matrix.MatVec(x, y, maxDegreeOfParallelism: 1);
                double first = clock.Elapsed.TotalMilliseconds - open;
                clock.Restart();
                matrix.MatVec(x, y, maxDegreeOfParallelism: 1);
                double warm = clock.Elapsed.TotalMilliseconds;
                bestOpen = Math.Min(bestOpen, open);
                bestFirst = Math.Min(bestFirst, first);
                bestWarm = Math.Min(bestWarm, warm);
            }

            var culture = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(culture,
                $"Sharded checkpoint of {total / (1024.0 * 1024 * 1024):0.00} GiB ({matrices} BF16 {Side} × {Side} matrices in 4 shards), best of 7 rounds, {Environment.ProcessorCount} cores:"));
            Console.WriteLine(string.Create(culture, $"  open index + shard + view as matrix: {bestOpen:0.000} ms"));
            Console.WriteLine(string.Create(culture, $"  first MatVec (one thread, pages faulted in): {bestFirst:0.00} ms; warm MatVec: {bestWarm:0.00} ms"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
