using System.Buffers.Binary;
using Quantization.Lora;
using Quantization.SafeTensors;
using static Quantization.Tests.SafeTensors.SafeTensorsBytes;

namespace Quantization.Tests.SafeTensors;

/// <summary>A PEFT adapter file read through <see cref="SafeTensorsLoraTensorSource"/>.</summary>
public sealed class SafeTensorsLoraTensorSourceTests
{
    [Fact]
    public void PeftAdapterFileBecomesAdapters()
    {
        // lora_A: r = 2 × in = 3 in BF16; lora_B: out = 4 × r = 2 in F32. Values chosen exact in BF16.
        float[] a = [0.5f, -1f, 2f, 0.25f, 3f, -0.125f];
        float[] b = [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f];
        var data = new byte[12 + 32];
        for (int i = 0; i < a.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), (ushort)(BitConverter.SingleToUInt32Bits(a[i]) >> 16));
        }

        for (int i = 0; i < b.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(12 + i * 4), b[i]);
        }

        string header = "{" + Entry("base_model.model.layers.0.q_proj.lora_A.weight", "BF16", [2, 3], 0, 12) + ","
            + Entry("base_model.model.layers.0.q_proj.lora_B.weight", "F32", [4, 2], 12, 44) + "}";
        using SafeTensorsFile file = SafeTensorsFile.Read(Build(header, data));
        PeftLoraConfig config = PeftLoraConfig.Parse("""{"r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}""");

        LoraAdapterSet set = LoraAdapterSet.FromPeft(config, new SafeTensorsLoraTensorSource(file));

        LoraAdapter q = set["layers.0.q_proj.weight"];
        Assert.Equal((2, 3, 4, 2f), (q.Rank, q.InputSize, q.OutputSize, q.Scaling));
        Assert.Equal(a, q.A.ToArray());
        Assert.Equal(b[3 * 2 + 1], q.GetB(3, 1));
    }

    [Fact]
    public void IntegerTensorsAreNotAdapterValues()
    {
        using SafeTensorsFile file = SafeTensorsFile.Read(Build("{" + Entry("x.lora_A.weight", "I32", [1, 1], 0, 4) + "}", new byte[4]));
        var source = new SafeTensorsLoraTensorSource(file);
        Assert.Equal(["x.lora_A.weight"], source.TensorNames);
        Assert.False(source.TryGetTensor("missing", out _));
        Assert.Throws<InvalidDataException>(() => source.TryGetTensor("x.lora_A.weight", out _));
    }
}
