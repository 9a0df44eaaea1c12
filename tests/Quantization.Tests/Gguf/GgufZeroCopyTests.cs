using System.Buffers;
using System.Runtime.InteropServices;
using Quantization.Gguf;

namespace Quantization.Tests.Gguf;

/// <summary>
/// A tensor of a memory-mapped file becomes a <see cref="QuantizedMatrix"/> without a copy, and a disposed file gives
/// <see cref="ObjectDisposedException"/>, never a read of unmapped memory.
/// </summary>
public sealed class GgufZeroCopyTests : IDisposable
{
    private const int Rows = 48, Columns = 512;
    private readonly string _path = Path.GetTempFileName();
    private readonly byte[] _packed;
    private readonly float[] _x;

    public GgufZeroCopyTests()
    {
        var random = new Random(5);
        var weights = new float[Rows * Columns];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(random.NextDouble() - 0.5);
        }

        _packed = new byte[Quantizer.GetByteCount(QuantType.Q4_K, weights.Length)];
        Quantizer.Quantize(QuantType.Q4_K, weights, _packed, Columns);
        _x = new float[Columns];
        for (int i = 0; i < _x.Length; i++)
        {
            _x[i] = (float)(random.NextDouble() - 0.5);
        }

        using var writer = GgufWriter.Create(_path);
        writer.SetMetadata("general.architecture", GgufValue.FromString("test"));
        writer.AddTensor("bias", QuantType.F32, [5]); // the weights do not start at the data section's start
        writer.AddTensor("w", QuantType.Q4_K, [Columns, Rows]);
        writer.WriteTensorData(new byte[20]);
        writer.WriteTensorData(_packed);
        writer.Finish();
    }

    public void Dispose() => File.Delete(_path);

    private float[] Expected()
    {
        var y = new float[Rows];
        QuantizedMath.MatVec(QuantType.Q4_K, _packed, Rows, Columns, _x, y);
        return y;
    }

    [Fact]
    public void MappedTensorMultipliesInPlace()
    {
        using GgufFile file = GgufFile.Open(_path);
        GgufTensorView view = file.GetTensorView("w");
        QuantizedMatrix matrix = view.AsMatrix();

        // No copy: the matrix reads the mapping itself, not an array.
        Assert.False(MemoryMarshal.TryGetArray(matrix.Weights, out _));
        Assert.True(MemoryMarshal.TryGetMemoryManager(matrix.Weights, out MemoryManager<byte>? _));
        Assert.True(matrix.Weights.Span == view.Span, "the matrix's weights are the view's bytes");
        Assert.Equal(_packed, matrix.Weights.ToArray());

        var y = new float[Rows];
        matrix.MatVec(_x, y);
        Assert.Equal(Expected(), y);

        var accurate = new float[Rows];
        var expectedAccurate = new float[Rows];
        matrix.MatVecAccurate(_x, accurate);
        QuantizedMath.MatVecAccurate(QuantType.Q4_K, _packed, Rows, Columns, _x, expectedAccurate);
        Assert.Equal(expectedAccurate, accurate);

        // Row-range matrices give the same outputs as the whole.
        var ranged = new float[Rows];
        view.AsMatrix(10, 20).MatVec(_x, ranged.AsSpan(10, 20));
        Assert.Equal(y.AsSpan(10, 20).ToArray(), ranged.AsSpan(10, 20).ToArray());
        Assert.Equal(_packed.AsSpan(10 * (int)view.RowByteCount, 20 * (int)view.RowByteCount).ToArray(), view.GetRowsMemory(10, 20).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => view.AsMatrix(40, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.GetRowsMemory(-1, 1));
    }

    [Fact]
    public void DisposedFileThrowsObjectDisposed()
    {
        GgufFile file = GgufFile.Open(_path);
        GgufTensorView view = file.GetTensorView("w");
        QuantizedMatrix matrix = view.AsMatrix();
        ReadOnlyMemory<byte> memory = view.Memory;
        file.Dispose();

        var y = new float[Rows];
        Assert.Throws<ObjectDisposedException>(() => matrix.MatVec(_x, y));
        Assert.Throws<ObjectDisposedException>(() => matrix.MatVecAccurate(_x, y));
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => memory.Pin());
        Assert.Throws<ObjectDisposedException>(() => view.Memory);
        Assert.Throws<ObjectDisposedException>(() => view.AsMatrix());
    }

    [Fact]
    public unsafe void APinKeepsTheMappingAliveAfterDispose()
    {
        GgufFile file = GgufFile.Open(_path);
        ReadOnlyMemory<byte> memory = file.GetTensorView("w").Memory;
        using (MemoryHandle pin = memory.Pin())
        {
            file.Dispose();

            // The file is disposed but the pinned view is still mapped: the bytes read are the tensor's.
            Assert.Equal(_packed, new ReadOnlySpan<byte>(pin.Pointer, _packed.Length).ToArray());
        }

        Assert.Throws<ObjectDisposedException>(() => memory.Pin());
    }

    [Fact]
    public async Task DisposingUnderRunningCallsNeverReadsUnmappedMemory()
    {
        // Calls on other threads either finish with the right result or throw ObjectDisposedException.
        float[] expected = Expected();
        for (int round = 0; round < 20; round++)
        {
            GgufFile file = GgufFile.Open(_path);
            QuantizedMatrix matrix = file.GetTensorView("w").AsMatrix();
            int finished = 0, refused = 0;
            using var start = new ManualResetEventSlim();
            Task[] callers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
            {
                var y = new float[Rows];
                start.Wait();
                for (int call = 0; call < 200; call++)
                {
                    try
                    {
                        matrix.MatVec(_x, y);
                        Assert.Equal(expected, y);
                        Interlocked.Increment(ref finished);
                    }
                    catch (ObjectDisposedException)
                    {
                        Interlocked.Increment(ref refused);
                        return;
                    }
                }
            }, TestContext.Current.CancellationToken)).ToArray();
            start.Set();
            await Task.Delay(round % 3, TestContext.Current.CancellationToken);
            file.Dispose();
            await Task.WhenAll(callers);
            Assert.True(finished + refused > 0);
        }
    }

    [Fact]
    public void FileReadFromMemoryHandsOutSlicesOfThatMemory()
    {
        byte[] bytes = File.ReadAllBytes(_path);
        using GgufFile file = GgufFile.Read(bytes);
        GgufTensorView view = file.GetTensorView("w");
        Assert.True(MemoryMarshal.TryGetArray(view.Memory, out ArraySegment<byte> segment));
        Assert.Same(bytes, segment.Array);
        Assert.Equal(file.DataOffset + view.Info.Offset, segment.Offset);

        var y = new float[Rows];
        view.AsMatrix().MatVec(_x, y);
        Assert.Equal(Expected(), y);
    }
}
