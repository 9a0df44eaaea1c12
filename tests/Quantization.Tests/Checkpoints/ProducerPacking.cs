namespace Quantization.Tests.Checkpoints;

/// <summary>
/// Test-only ports of the producers' packing loops, kept loop for loop so a fixture is laid out as the producer lays it:
/// auto-gptq's <c>QuantLinear.pack</c> (qlinear_cuda_old, MIT) for GPTQ and AutoAWQ's <c>WQLinear_GEMM.from_linear</c>
/// (MIT) for AWQ. Tensors are row-major uint32 arrays (the producers' int32 reinterpreted).
/// </summary>
internal static class ProducerPacking
{
    /// <summary>
    /// auto-gptq's qweight: intweight [in, out] (already transposed as the producer does) into [in / 32 · bits, out];
    /// 2/4/8 bits are 32 / bits codes per word, 3 bits run 10 + ⅔ codes per word across word boundaries.
    /// </summary>
    public static uint[] GptqPackWeight(uint[] intweight, int inFeatures, int outFeatures, int bits)
    {
        int packedRows = inFeatures / 32 * bits;
        var qweight = new uint[packedRows * outFeatures];
        int i = 0;
        int row = 0;
        while (row < packedRows)
        {
            if (bits is 2 or 4 or 8)
            {
                for (int j = i; j < i + 32 / bits; j++)
                {
                    OrRow(qweight, row, outFeatures, intweight, j, v => v << (bits * (j - i)));
                }

                i += 32 / bits;
                row += 1;
            }
            else
            {
                for (int j = i; j < i + 10; j++)
                {
                    OrRow(qweight, row, outFeatures, intweight, j, v => v << (3 * (j - i)));
                }

                i += 10;
                OrRow(qweight, row, outFeatures, intweight, i, v => v << 30);
                row += 1;
                OrRow(qweight, row, outFeatures, intweight, i, v => (v >> 2) & 1);
                i += 1;
                for (int j = i; j < i + 10; j++)
                {
                    OrRow(qweight, row, outFeatures, intweight, j, v => v << (3 * (j - i) + 1));
                }

                i += 10;
                OrRow(qweight, row, outFeatures, intweight, i, v => v << 31);
                row += 1;
                OrRow(qweight, row, outFeatures, intweight, i, v => (v >> 1) & 0x3);
                i += 1;
                for (int j = i; j < i + 10; j++)
                {
                    OrRow(qweight, row, outFeatures, intweight, j, v => v << (3 * (j - i) + 2));
                }

                i += 10;
                row += 1;
            }
        }

        return qweight;
    }

    /// <summary>
    /// auto-gptq's qzeros: zeros [groups, out] into [groups, out / 32 · bits], packed along each row the same way;
    /// <paramref name="subtractOne"/> is the v1 format's <c>zeros -= 1</c> (GPTQModel's v2 skips it).
    /// </summary>
    public static uint[] GptqPackZeros(int[] zeros, int groups, int outFeatures, int bits, bool subtractOne)
    {
        int words = outFeatures / 32 * bits;
        var source = new uint[zeros.Length];
        for (int k = 0; k < zeros.Length; k++)
        {
            source[k] = (uint)(zeros[k] - (subtractOne ? 1 : 0));
        }

        var qzeros = new uint[groups * words];
        for (int g = 0; g < groups; g++)
        {
            int i = 0;
            int col = 0;
            uint Z(int j) => source[g * outFeatures + j];
            ref uint At(int c) => ref qzeros[g * words + c];
            while (col < words)
            {
                if (bits is 2 or 4 or 8)
                {
                    for (int j = i; j < i + 32 / bits; j++)
                    {
                        At(col) |= Z(j) << (bits * (j - i));
                    }

                    i += 32 / bits;
                    col += 1;
                }
                else
                {
                    for (int j = i; j < i + 10; j++)
                    {
                        At(col) |= Z(j) << (3 * (j - i));
                    }

                    i += 10;
                    At(col) |= Z(i) << 30;
                    col += 1;
                    At(col) |= (Z(i) >> 2) & 1;
                    i += 1;
                    for (int j = i; j < i + 10; j++)
                    {
                        At(col) |= Z(j) << (3 * (j - i) + 1);
                    }

                    i += 10;
                    At(col) |= Z(i) << 31;
                    col += 1;
                    At(col) |= (Z(i) >> 1) & 0x3;
                    i += 1;
                    for (int j = i; j < i + 10; j++)
                    {
                        At(col) |= Z(j) << (3 * (j - i) + 2);
                    }

                    i += 10;
                    col += 1;
                }
            }
        }

        return qzeros;
    }

    /// <summary>AutoAWQ's order map: nibble i of a word holds output 8·col + OrderMap[i].</summary>
    private static readonly int[] OrderMap = [0, 2, 4, 6, 1, 3, 5, 7];

    /// <summary>AutoAWQ's qweight (or qzeros): intweight [rows, out] into [rows, out / 8], nibble i ← column 8·col + order_map[i].</summary>
    public static uint[] AwqPack(int[] intweight, int rows, int outFeatures)
    {
        const int packNum = 8;
        int words = outFeatures / packNum;
        var packed = new uint[rows * words];
        for (int col = 0; col < words; col++)
        {
            for (int i = 0; i < packNum; i++)
            {
                for (int r = 0; r < rows; r++)
                {
                    packed[r * words + col] |= (uint)intweight[r * outFeatures + col * packNum + OrderMap[i]] << (i * 4);
                }
            }
        }

        return packed;
    }

    private static void OrRow(uint[] qweight, int row, int outFeatures, uint[] intweight, int j, Func<uint, uint> shift)
    {
        for (int o = 0; o < outFeatures; o++)
        {
            qweight[row * outFeatures + o] |= shift(intweight[j * outFeatures + o]);
        }
    }
}
