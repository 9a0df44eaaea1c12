using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Quantization.SafeTensors;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.SafeTensors;

/// <summary>
/// F32, F16 and BF16 tensors of a memory-mapped file multiply in place (no copy) and quantize chunk by chunk to the
/// bytes of quantizing their floats; a disposed file gives <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class SafeTensorsZeroCopyTests : IDisposable
{
    private const int Rows = 6, Columns = 64;
    private readonly string _path = Path.GetTempFileName();
    private readonly float[] _weights = new float[Rows * Columns];
    private readonly float[] _x = new float[Columns];

    public SafeTensorsZeroCopyTests()
    {
        var random = new Random(3);
        for (int i = 0; i < _weights.Length; i++)
        {
            _weights[i] = (float)(random.NextDouble() * 2 - 1);
        }

        for (int i = 0; i < _x.Length; i++)
        {
            _x[i] = (float)(random.NextDouble() * 2 - 1);
        }

        // Hand-laid: an odd-sized U8 tensor first so the others do not start at the data section's start.
        int n = _weights.Length;
        var data = new byte[3 + n * 4 + n * 2 + n * 2];
        for (int i = 0; i < n; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(3 + i * 4), _weights[i]);
            BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(3 + n * 4 + i * 2), (Half)_weights[i]);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(3 + n * 6 + i * 2), (ushort)(BitConverter.SingleToUInt32Bits(_weights[i]) >> 16));
        }

        string header = "{" + Entry("pad", "U8", [3], 0, 3) + "," + Entry("w32", "F32", [Rows, Columns], 3, 3 + n * 4)
            + "," + Entry("w16", "F16", [Rows, Columns], 3 + n * 4, 3 + n * 6) + "," + Entry("wbf", "BF16", [2, Rows / 2, Columns], 3 + n * 6, 3 + n * 8) + "}";
        File.WriteAllBytes(_path, Build(header, data));
    }

    public void Dispose() => File.Delete(_path);

    [Theory]
    [InlineData("w32", 1e-5)]
    [InlineData("w16", 2e-2)]
    [InlineData("wbf", 5e-2)]
    public void MappedTensorMultipliesInPlace(string name, double tolerance)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(_path);
        SafeTensorsTensorView view = file.GetTensorView(name);
        QuantizedMatrix matrix = view.AsMatrix();

        Assert.Equal((Rows, Columns), (matrix.Rows, matrix.Columns));
        Assert.True(MemoryMarshal.TryGetMemoryManager(matrix.Weights, out MemoryManager<byte>? _)); // the map, not a copy
        var y = new float[Rows];
        matrix.MatVec(_x, y);
        for (int r = 0; r < Rows; r++)
        {
            double expected = 0;
            for (int c = 0; c < Columns; c++)
            {
                expected += (double)_weights[r * Columns + c] * _x[c];
            }

            Assert.True(Math.Abs(y[r] - expected) <= tolerance, $"{name} row {r}: {y[r]} vs {expected}");
        }

        IReadOnlyList<QuantizedMatrix> pieces = view.AsMatrices();
        Assert.Equal(Rows, pieces.Sum(m => m.Rows));
    }

    [Fact]
    public void DisposedFileThrowsObjectDisposed()
    {
        SafeTensorsFile file = SafeTensorsFile.Open(_path);
        SafeTensorsTensorView view = file.GetTensorView("w16");
        QuantizedMatrix matrix = view.AsMatrix();
        ReadOnlyMemory<byte> memory = view.Memory;
        file.Dispose();

        var y = new float[Rows];
        Assert.Throws<ObjectDisposedException>(() => matrix.MatVec(_x, y));
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => view.Memory);
        Assert.Throws<ObjectDisposedException>(() => view.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => file.GetTensorView("w16"));
    }

    [Fact]
    public void FileReadFromMemoryHandsOutSlicesOfThatMemory()
    {
        byte[] bytes = File.ReadAllBytes(_path);
        using SafeTensorsFile file = SafeTensorsFile.Read(bytes);
        SafeTensorsTensorView view = file.GetTensorView("w32");
        Assert.True(MemoryMarshal.TryGetArray(view.Memory, out ArraySegment<byte> segment));
        Assert.Same(bytes, segment.Array);
        Assert.Equal(file.DataOffset + 3, segment.Offset);
    }

    [Fact]
    public void QuantizeGivesTheBytesOfQuantizingTheFloats()
    {
        // 300 rows of 4096 BF16 values: more than one conversion chunk.
        const int rows = 300, columns = 4096;
        var random = new Random(9);
        var data = new byte[rows * columns * 2];
        var floats = new float[rows * columns];
        for (int i = 0; i < floats.Length; i++)
        {
            ushort bits = (ushort)(BitConverter.SingleToUInt32Bits((float)(random.NextDouble() * 4 - 2)) >> 16);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), bits);
            floats[i] = BitConverter.UInt32BitsToSingle((uint)bits << 16);
        }

        using SafeTensorsFile file = SafeTensorsFile.Read(Build("{" + Entry("w", "BF16", [rows, columns], 0, data.Length) + "}", data));
        SafeTensorsTensorView view = file.GetTensorView("w");
        var expected = new byte[Quantizer.GetByteCount(QuantType.Q8_0, floats.Length)];
        Quantizer.Quantize(QuantType.Q8_0, floats, expected, columns);
        var actual = new byte[expected.Length];
        view.Quantize(QuantType.Q8_0, actual, maxDegreeOfParallelism: 2);
        Assert.Equal(expected, actual);

        Assert.Throws<ArgumentException>(() => view.Quantize(QuantType.Q8_0, new byte[10]));

        QuantizedMatrix matrix = view.ToQuantizedMatrix(QuantType.Q8_0);
        Assert.Equal((rows, columns, QuantType.Q8_0), (matrix.Rows, matrix.Columns, matrix.Type));
        Assert.Equal(expected, matrix.Weights.ToArray());
    }

    [Fact]
    public void QuantizeRejectsRowsThatAreNotWholeBlocks()
    {
        using SafeTensorsFile file = SafeTensorsFile.Read(Build("{" + Entry("w", "F32", [2, 48], 0, 384) + "}", new byte[384]));
        Assert.Equal("type", Assert.Throws<ArgumentException>(() => file.GetTensorView("w").ToQuantizedMatrix(QuantType.Q8_0)).ParamName);
    }
}
