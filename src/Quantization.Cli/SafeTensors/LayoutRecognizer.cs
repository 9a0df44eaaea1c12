using Quantization.SafeTensors;

namespace Quantization.Cli.SafeTensors;

/// <summary>
/// Names the quantization layout a checkpoint's tensors belong to, from the sibling tensors each producer writes:
/// GPTQ / AWQ (<c>qweight</c> + <c>qzeros</c> + <c>scales</c>, GPTQ adding <c>g_idx</c>), bitsandbytes 4-bit
/// (<c>weight</c> + <c>weight.absmax</c> + <c>weight.quant_state.bitsandbytes__nf4</c> or <c>__fp4</c>),
/// bitsandbytes 8-bit (<c>weight</c> + <c>SCB</c>) and FP8 (an F8 <c>weight</c> with <c>weight_scale_inv</c> or
/// <c>weight_scale</c>). Recognition only: a label, no validation of the layout's shapes.
/// </summary>
internal static class LayoutRecognizer
{
    public const string Gptq = "GPTQ (group int, g_idx)";
    public const string GptqOrAwq = "GPTQ/AWQ (group int)";
    public const string BitsAndBytesNf4 = "bitsandbytes NF4";
    public const string BitsAndBytesFp4 = "bitsandbytes FP4";
    public const string BitsAndBytesInt8 = "bitsandbytes int8";
    public const string Fp8BlockScaled = "FP8 block-scaled";
    public const string Fp8TensorScaled = "FP8 per-tensor scale";
    public const string Fp8ChannelScaled = "FP8 scaled";
    public const string Fp8 = "FP8";

    /// <summary>The layout of each tensor that belongs to one; dense tensors are absent.</summary>
    public static Dictionary<string, string> Recognize(IReadOnlyDictionary<string, SafeTensorsTensorInfo> tensors)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, SafeTensorsTensorInfo info) in tensors)
        {
            if (name.EndsWith(".qweight", StringComparison.Ordinal))
            {
                string prefix = name[..^".qweight".Length];
                if (tensors.ContainsKey(prefix + ".qzeros") && tensors.ContainsKey(prefix + ".scales"))
                {
                    string label = tensors.ContainsKey(prefix + ".g_idx") ? Gptq : GptqOrAwq;
                    Label(labels, tensors, label, name, prefix + ".qzeros", prefix + ".scales", prefix + ".g_idx");
                }
            }
            else if (name.EndsWith(".weight", StringComparison.Ordinal))
            {
                RecognizeWeight(labels, tensors, name, info);
            }
        }

        return labels;
    }

    private static void RecognizeWeight(Dictionary<string, string> labels, IReadOnlyDictionary<string, SafeTensorsTensorInfo> tensors, string name, SafeTensorsTensorInfo info)
    {
        string prefix = name[..^".weight".Length];
        bool nf4 = tensors.ContainsKey(name + ".quant_state.bitsandbytes__nf4");
        if (nf4 || tensors.ContainsKey(name + ".quant_state.bitsandbytes__fp4"))
        {
            // Every companion is named "<weight>.<part>": absmax, quant_map, nested_absmax, nested_quant_map, quant_state.
            string label = nf4 ? BitsAndBytesNf4 : BitsAndBytesFp4;
            labels[name] = label;
            foreach (string other in tensors.Keys)
            {
                if (other.StartsWith(name + ".", StringComparison.Ordinal))
                {
                    labels[other] = label;
                }
            }

            return;
        }

        if (info.DType == SafeTensorsDType.I8 && tensors.ContainsKey(prefix + ".SCB"))
        {
            Label(labels, tensors, BitsAndBytesInt8, name, prefix + ".SCB", prefix + ".weight_format");
            return;
        }

        if (info.DType is not (SafeTensorsDType.F8E4M3 or SafeTensorsDType.F8E5M2 or SafeTensorsDType.F8E4M3Fnuz or SafeTensorsDType.F8E5M2Fnuz))
        {
            return;
        }

        if (tensors.TryGetValue(name + "_scale_inv", out SafeTensorsTensorInfo? inverse))
        {
            Label(labels, tensors, inverse.ElementCount == 1 ? Fp8TensorScaled : Fp8BlockScaled, name, name + "_scale_inv", prefix + ".input_scale");
        }
        else if (tensors.TryGetValue(name + "_scale", out SafeTensorsTensorInfo? scale))
        {
            Label(labels, tensors, scale.ElementCount == 1 ? Fp8TensorScaled : Fp8ChannelScaled, name, name + "_scale", prefix + ".input_scale");
        }
        else
        {
            labels[name] = Fp8;
        }
    }

    private static void Label(Dictionary<string, string> labels, IReadOnlyDictionary<string, SafeTensorsTensorInfo> tensors, string label, params string[] names)
    {
        foreach (string name in names)
        {
            if (tensors.ContainsKey(name))
            {
                labels[name] = label;
            }
        }
    }
}
