using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Quantization.Formats;
using Quantization.Kernels;
using Quantization.Tests.Support;

namespace Quantization.Tests.Dot;

/// <summary>The unpacking shortcuts of the fused dot kernels against the per-element definitions they replace.</summary>
public sealed unsafe class KDotHelperTests
{
    [Fact]
    public void HalfToSingleEqualsFp16ForEveryBitPattern()
    {
        for (int h = 0; h <= ushort.MaxValue; ++h)
        {
            float expected = Fp16.ToSingle((ushort)h);
            float actual = KDot.HalfToSingle((ushort)h);
            if (float.IsNaN(expected))
            {
                Assert.True(float.IsNaN(actual), $"0x{h:X4}");
            }
            else
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual), $"0x{h:X4}: {expected} vs {actual}");
            }
        }
    }

    [Fact]
    public void KScalesUnpackEqualsGet()
    {
        var rng = new TestRng(5);
        var packed = new byte[16];
        for (int trial = 0; trial < 2000; ++trial)
        {
            for (int i = 0; i < packed.Length; ++i)
            {
                packed[i] = (byte)rng.NextUInt64();
            }

            ref Bytes12 scales = ref MemoryMarshal.AsRef<Bytes12>(packed.AsSpan(0, 12));
            byte[] unpacked = new byte[16];
            KScales.Unpack(in scales).CopyTo(unpacked);
            byte[]? vector = null;
            if (Avx2.IsSupported)
            {
                vector = new byte[16];
                fixed (byte* p = packed)
                {
                    KScales.UnpackAvx2(p).CopyTo(vector);
                }
            }

            for (int j = 0; j < 8; ++j)
            {
                KScales.Get(j, packed.AsSpan(0, 12), out int sc, out int m);
                Assert.Equal(sc, unpacked[j]);
                Assert.Equal(m, unpacked[8 + j]);
                if (vector is not null)
                {
                    Assert.Equal(sc, vector[j]);
                    Assert.Equal(m, vector[8 + j]);
                }
            }
        }
    }

    [Fact]
    public void Q3_KUnpackScalesEqualsGetScale()
    {
        var rng = new TestRng(6);
        var packed = new byte[12];
        for (int trial = 0; trial < 2000; ++trial)
        {
            for (int i = 0; i < packed.Length; ++i)
            {
                packed[i] = (byte)rng.NextUInt64();
            }

            var unpacked = new sbyte[16];
            Q3_KDot.UnpackScales(in MemoryMarshal.AsRef<Bytes12>(packed)).CopyTo(unpacked);
            for (int k = 0; k < 16; ++k)
            {
                Assert.Equal(BlockQ3_K.GetScale(packed, k), unpacked[k]);
            }
        }
    }

    [Fact]
    public void IQ4_XSScalesEqualScale()
    {
        var rng = new TestRng(7);
        var raw = new byte[BlockIQ4_XS.Size];
        for (int trial = 0; trial < 2000; ++trial)
        {
            for (int i = 0; i < raw.Length; ++i)
            {
                raw[i] = (byte)rng.NextUInt64();
            }

            BlockIQ4_XS block = MemoryMarshal.Read<BlockIQ4_XS>(raw);
            ulong scales = IQ4_XSDot.Scales(block.ScalesH, BitConverter.ToUInt32(raw, 4));
            for (int ib = 0; ib < 8; ++ib)
            {
                Assert.Equal(block.Scale(ib), (int)((scales >> (8 * ib)) & 0xFF));
            }
        }
    }
}
