using Quantization;
using Quantization.Gguf;

// A consumer of the packed library under NativeAOT: quantize, dequantize, multiply, write and read GGUF.
const int rows = 4, columns = 1024;
var x = new float[rows * columns];
for (int i = 0; i < x.Length; i++)
{
    x[i] = MathF.Sin(i * 0.37f) * 0.02f;
}

int failures = 0;
foreach (QuantType type in new[] { QuantType.Q4_0, QuantType.Q4_K, QuantType.NF4, QuantType.TQ2_0 })
{
    var q = new byte[Quantizer.GetByteCount(type, x.Length)];
    Quantizer.Quantize(type, x, q, columns);
    var y = new float[x.Length];
    Quantizer.Dequantize(type, q, y);
    double err = 0;
    for (int i = 0; i < x.Length; i++)
    {
        err = Math.Max(err, Math.Abs(x[i] - y[i]));
    }

    // y = W·v against the dequantized weights.
    var v = new float[columns];
    Array.Fill(v, 1f);
    var product = new float[rows];
    QuantizedMath.MatVec(type, q, rows, columns, v, product);
    double expected = 0;
    for (int c = 0; c < columns; c++)
    {
        expected += y[c];
    }

    bool ok = err < 0.02 && Math.Abs(product[0] - expected) < 0.05;
    failures += ok ? 0 : 1;
    Console.WriteLine($"{type}: max error {err:G3}, row 0 {product[0]:G5} (dequantized {expected:G5}) {(ok ? "ok" : "FAIL")}");
}

using var stream = new MemoryStream();
using (var writer = new GgufWriter(stream, leaveOpen: true))
{
    writer.SetMetadata("general.architecture", GgufValue.FromString("smoke"));
    writer.AddTensor("w", QuantType.F32, [columns, rows]);
    writer.WriteTensorData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()));
    writer.Finish();
}

using GgufFile file = GgufFile.Read(stream.ToArray());
bool ggufOk = file.GetString("general.architecture") == "smoke" && file.GetTensorView("w").Rows == rows;
failures += ggufOk ? 0 : 1;
Console.WriteLine($"gguf round trip {(ggufOk ? "ok" : "FAIL")}");

// A memory-mapped model: the tensor multiplies in place, no copy of its bytes.
string path = Path.Combine(Path.GetTempPath(), $"smoke-{Environment.ProcessId}.gguf");
try
{
    var packed = new byte[Quantizer.GetByteCount(QuantType.Q4_K, x.Length)];
    Quantizer.Quantize(QuantType.Q4_K, x, packed, columns);
    using (GgufWriter writer = GgufWriter.Create(path))
    {
        writer.SetMetadata("general.architecture", GgufValue.FromString("smoke"));
        writer.AddTensor("w", QuantType.Q4_K, [columns, rows]);
        writer.WriteTensorData(packed);
        writer.Finish();
    }

    var v = new float[columns];
    Array.Fill(v, 0.5f);
    var expected = new float[rows];
    QuantizedMath.MatVec(QuantType.Q4_K, packed, rows, columns, v, expected);
    var mapped = new float[rows];
    bool zeroCopy;
    using (GgufFile model = GgufFile.Open(path))
    {
        QuantizedMatrix matrix = model.GetTensorView("w").AsMatrix();
        zeroCopy = !System.Runtime.InteropServices.MemoryMarshal.TryGetArray(matrix.Weights, out _);
        matrix.MatVec(v, mapped);
    }

    bool mappedOk = zeroCopy && mapped.AsSpan().SequenceEqual(expected);
    failures += mappedOk ? 0 : 1;
    Console.WriteLine($"mapped matrix (zero copy: {zeroCopy}) {(mappedOk ? "ok" : "FAIL")}");
}
finally
{
    File.Delete(path);
}

return failures;
