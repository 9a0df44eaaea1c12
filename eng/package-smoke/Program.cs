using Quantization;

// A consumer of the packed library: quantize, dequantize, check the error, under NativeAOT.
var x = new float[4096];
for (int i = 0; i < x.Length; i++)
{
    x[i] = MathF.Sin(i * 0.37f) * 0.02f;
}

var q = new byte[Quantizer.GetByteCount(QuantType.Q4_0, x.Length)];
Quantizer.Quantize(QuantType.Q4_0, x, q, 1024);
var y = new float[x.Length];
Quantizer.Dequantize(QuantType.Q4_0, q, y);
double err = 0;
for (int i = 0; i < x.Length; i++)
{
    err = Math.Max(err, Math.Abs(x[i] - y[i]));
}

Console.WriteLine($"q4_0 max error {err:G3}");
return err < 0.005 ? 0 : 1;
