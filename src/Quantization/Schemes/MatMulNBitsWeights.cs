namespace Quantization.Schemes;

/// <summary>
/// A group-quantized matrix as ONNX Runtime's <c>com.microsoft.MatMulNBits</c> operator takes it (docs/formats.md#matmulnbits-interop):
/// <see cref="B"/> (uint8 [N, k_blocks, blob_size]), <see cref="Scales"/> ([N, k_blocks]) and <see cref="ZeroPoints"/>
/// (packed uint8 [N, ⌈k_blocks · bits / 8⌉], or none for the operator's default 2^(bits−1)).
/// </summary>
/// <remarks>
/// The operator computes Y = A · dequant(B)ᵀ with dequant(code) = (code − zero point) · scale, N the rows of the scheme
/// matrix (output channels) and K its columns. <see cref="Export"/> and <see cref="Import"/> are exact inverses: codes, scales
/// and zero points keep their bits.
/// </remarks>
public sealed class MatMulNBitsWeights
{
    private MatMulNBitsWeights(int n, int k, int bits, int blockSize, byte[] b, float[] scales, byte[]? zeroPoints)
    {
        N = n;
        K = k;
        Bits = bits;
        BlockSize = blockSize;
        B = b;
        Scales = scales;
        ZeroPoints = zeroPoints;
    }

    /// <summary>Output channels (the operator's attribute N).</summary>
    public int N { get; }

    /// <summary>Inputs (the operator's attribute K), a multiple of <see cref="BlockSize"/>.</summary>
    public int K { get; }

    /// <summary>Bits per code (the operator's attribute <c>bits</c>).</summary>
    public int Bits { get; }

    /// <summary>Codes per block (the operator's attribute <c>block_size</c>), a power of two from 16.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks per row, K / block_size.</summary>
    public int KBlocks => K / BlockSize;

    /// <summary>Bytes per block, block_size · bits / 8.</summary>
    public int BlobSize => BlockSize * Bits / 8;

    /// <summary>Bytes of one row of packed zero points, ⌈k_blocks · bits / 8⌉.</summary>
    public int ZeroPointRowBytes => (KBlocks * Bits + 7) / 8;

    /// <summary>The packed codes, N · k_blocks · blob_size bytes: each block a little-endian bit stream, low bits first.</summary>
    public byte[] B { get; }

    /// <summary>The scales, N · k_blocks values.</summary>
    public float[] Scales { get; }

    /// <summary>The zero points packed like the codes, row by row (N · <see cref="ZeroPointRowBytes"/> bytes); <see langword="null"/> for 2^(bits−1).</summary>
    public byte[]? ZeroPoints { get; }

    /// <summary>Wraps the operator's arrays after checking their shapes.</summary>
    /// <param name="n">Output channels.</param>
    /// <param name="k">Inputs, a multiple of <paramref name="blockSize"/>.</param>
    /// <param name="bits">Bits per code, 2–8.</param>
    /// <param name="blockSize">A power of two from 16 to 4096, or K itself.</param>
    /// <param name="b">N · k_blocks · blob_size bytes.</param>
    /// <param name="scales">N · k_blocks values.</param>
    /// <param name="zeroPoints">N · ⌈k_blocks · bits / 8⌉ bytes, or <see langword="null"/>.</param>
    /// <returns>The weights.</returns>
    /// <exception cref="ArgumentException">A parameter or length is wrong; the message names it.</exception>
    public static MatMulNBitsWeights Create(int n, int k, int bits, int blockSize, byte[] b, float[] scales, byte[]? zeroPoints)
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(scales);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (bits is < 2 or > 8)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "MatMulNBits codes have 2 to 8 bits.");
        }

        if (blockSize < QuantScheme.MinGroupSize || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "block_size is a power of two from 16.");
        }

        if (k <= 0 || k % blockSize != 0 || (blockSize > QuantScheme.MaxGroupSize && blockSize != k))
        {
            throw new ArgumentOutOfRangeException(nameof(k), k,
                $"K must be a positive multiple of block_size {blockSize} (and equal to it when block_size exceeds {QuantScheme.MaxGroupSize}).");
        }

        var weights = new MatMulNBitsWeights(n, k, bits, blockSize, b, scales, zeroPoints);
        if (b.Length != (long)n * weights.KBlocks * weights.BlobSize)
        {
            ThrowHelper.ThrowArgument(nameof(b), $"B has {b.Length} bytes; [{n}, {weights.KBlocks}, {weights.BlobSize}] takes {(long)n * weights.KBlocks * weights.BlobSize}.");
        }

        if (scales.Length != (long)n * weights.KBlocks)
        {
            ThrowHelper.ThrowArgument(nameof(scales), $"scales has {scales.Length} values; [{n}, {weights.KBlocks}] takes {(long)n * weights.KBlocks}.");
        }

        if (zeroPoints is not null && zeroPoints.Length != (long)n * weights.ZeroPointRowBytes)
        {
            ThrowHelper.ThrowArgument(nameof(zeroPoints), $"zero_points has {zeroPoints.Length} bytes; [{n}, {weights.ZeroPointRowBytes}] takes {(long)n * weights.ZeroPointRowBytes}.");
        }

        return weights;
    }

    /// <summary>
    /// Wraps the operator's arrays with float zero points ([N, k_blocks], the form the operator also accepts); each must be an
    /// integer from 0 to 2^bits − 1, which is what a code stream can represent.
    /// </summary>
    /// <param name="n">Output channels.</param>
    /// <param name="k">Inputs, a multiple of <paramref name="blockSize"/>.</param>
    /// <param name="bits">Bits per code, 2–8.</param>
    /// <param name="blockSize">A power of two from 16 to 4096, or K itself.</param>
    /// <param name="b">N · k_blocks · blob_size bytes.</param>
    /// <param name="scales">N · k_blocks values.</param>
    /// <param name="zeroPoints">N · k_blocks values.</param>
    /// <returns>The weights, zero points packed.</returns>
    /// <exception cref="ArgumentException">A parameter or length is wrong, or a zero point is not such an integer.</exception>
    public static MatMulNBitsWeights CreateWithFloatZeroPoints(int n, int k, int bits, int blockSize, byte[] b, float[] scales, float[] zeroPoints)
    {
        ArgumentNullException.ThrowIfNull(zeroPoints);
        MatMulNBitsWeights shape = Create(n, k, bits, blockSize, b, scales, null);
        if (zeroPoints.Length != scales.Length)
        {
            ThrowHelper.ThrowArgument(nameof(zeroPoints), $"zero_points has {zeroPoints.Length} values; [{n}, {shape.KBlocks}] takes {scales.Length}.");
        }

        var packed = new byte[(long)n * shape.ZeroPointRowBytes];
        var codes = new byte[shape.KBlocks];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < codes.Length; j++)
            {
                float z = zeroPoints[r * codes.Length + j];
                if (!(z >= 0 && z <= SchemeReference.CodeMax(bits) && z == MathF.Floor(z)))
                {
                    ThrowHelper.ThrowArgument(nameof(zeroPoints), $"zero_points[{r * codes.Length + j}] is {z}; {bits}-bit codes take integer zero points from 0 to {SchemeReference.CodeMax(bits)}.");
                }

                codes[j] = (byte)z;
            }

            SchemeCodes.Pack(bits, codes, packed.AsSpan(r * shape.ZeroPointRowBytes, shape.ZeroPointRowBytes), 0);
        }

        return new MatMulNBitsWeights(n, k, bits, blockSize, b, scales, packed);
    }

    /// <summary>Exports a scheme matrix: an integer scheme with groups (or whole rows) of a power-of-two size from 16.</summary>
    /// <param name="scheme">The weights' scheme: <see cref="SchemeElement.Integer"/>, <see cref="SchemeGranularity.Group"/> or <see cref="SchemeGranularity.Row"/>.</param>
    /// <param name="weights">Exactly <see cref="SchemeQuantizer.GetByteCount"/> bytes.</param>
    /// <param name="rows">Rows (N).</param>
    /// <param name="columns">Columns (K).</param>
    /// <returns>The operator's arrays; zero points only for asymmetric schemes.</returns>
    /// <exception cref="ArgumentException">The scheme has no MatMulNBits form, or a length is wrong.</exception>
    public static MatMulNBitsWeights Export(QuantScheme scheme, ReadOnlySpan<byte> weights, int rows, int columns)
    {
        SchemeLayout layout = SchemeLayout.Create(scheme, rows, columns);
        layout.ThrowIfWrongByteCount(weights.Length, nameof(weights));
        int blockSize = layout.GroupLength;
        if (scheme.Element != SchemeElement.Integer || scheme.Granularity is not (SchemeGranularity.Group or SchemeGranularity.Row)
            || blockSize < QuantScheme.MinGroupSize || (blockSize & (blockSize - 1)) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(scheme), $"{scheme} on {columns} columns has no MatMulNBits form: it takes integer codes in groups (or rows) of a power of two from {QuantScheme.MinGroupSize}.");
        }

        byte[] b = weights[..(int)layout.CodeBytes].ToArray();
        var scales = new float[layout.ScaleCount];
        ReadOnlySpan<byte> scaleBytes = weights[(int)layout.ScalesOffset..];
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = SchemeScales.Read(scheme.ScaleType, scaleBytes, i);
        }

        byte[]? zeroPoints = null;
        if (scheme.HasZeroPoints)
        {
            int rowBytes = (layout.GroupsPerRow * scheme.Bits + 7) / 8;
            zeroPoints = new byte[(long)rows * rowBytes];
            for (int r = 0; r < rows; r++)
            {
                SchemeCodes.Pack(scheme.Bits, weights.Slice((int)layout.ZeroPointsOffset + r * layout.GroupsPerRow, layout.GroupsPerRow),
                                 zeroPoints.AsSpan(r * rowBytes, rowBytes), 0);
            }
        }

        return Create(rows, columns, scheme.Bits, blockSize, b, scales, zeroPoints);
    }

    /// <summary>
    /// The scheme <see cref="Import"/> writes: integer groups of <see cref="BlockSize"/> (a whole-row scheme when the block is
    /// the row and longer than the largest group), symmetric when there are no zero points.
    /// </summary>
    /// <param name="scaleType">How the scales are stored.</param>
    /// <returns>The scheme.</returns>
    public QuantScheme ToScheme(SchemeScaleType scaleType = SchemeScaleType.F32) =>
        BlockSize > QuantScheme.MaxGroupSize
            ? QuantScheme.Integer(Bits, SchemeGranularity.Row, 0, ZeroPoints is null, scaleType)
            : QuantScheme.Integer(Bits, SchemeGranularity.Group, BlockSize, ZeroPoints is null, scaleType);

    /// <summary>The matrix in <see cref="ToScheme"/>(<paramref name="scaleType"/>): N rows of K columns, codes, scales and zero points bit for bit.</summary>
    /// <param name="scaleType">How the scales are stored; every scale must be exactly representable in it.</param>
    /// <returns>The scheme bytes.</returns>
    /// <exception cref="ArgumentException">A scale is not exactly representable in <paramref name="scaleType"/>.</exception>
    public byte[] Import(SchemeScaleType scaleType = SchemeScaleType.F32)
    {
        QuantScheme scheme = ToScheme(scaleType);
        SchemeLayout layout = SchemeLayout.Create(scheme, N, K);
        var tensor = new byte[layout.TotalBytes];
        B.CopyTo(tensor, 0);
        Span<byte> scaleBytes = tensor.AsSpan((int)layout.ScalesOffset, (int)(layout.ZeroPointsOffset - layout.ScalesOffset));
        for (int i = 0; i < Scales.Length; i++)
        {
            float scale = Scales[i];
            if (scaleType != SchemeScaleType.F32 && BitConverter.SingleToInt32Bits(SchemeScales.Round(scaleType, scale)) != BitConverter.SingleToInt32Bits(scale))
            {
                ThrowHelper.ThrowArgument(nameof(scaleType), $"scales[{i}] = {scale} is not exactly representable as {scaleType}.");
            }

            SchemeScales.Write(scaleType, scaleBytes, i, scale);
        }

        if (ZeroPoints is not null)
        {
            for (int r = 0; r < N; r++)
            {
                SchemeCodes.Unpack(Bits, ZeroPoints.AsSpan(r * ZeroPointRowBytes, ZeroPointRowBytes), 0,
                                   tensor.AsSpan((int)layout.ZeroPointsOffset + r * KBlocks, KBlocks));
            }
        }

        return tensor;
    }
}
