using Quantization.Checkpoints;

namespace Quantization.Tests.Checkpoints;

public sealed class GptqConfigTests
{
    [Fact]
    public void ReadsQuantizeConfigJson()
    {
        const string json = """
            {"bits": 4, "group_size": 128, "damp_percent": 0.01, "desc_act": true, "static_groups": false, "sym": false,
             "true_sequential": true, "model_name_or_path": null, "model_file_base_name": "model", "quant_method": "gptq",
             "checkpoint_format": "gptq"}
            """;
        GptqConfig config = GptqConfig.Parse(json);
        Assert.Equal(new GptqConfig(4, 128, descAct: true, symmetric: false, GptqCheckpointFormat.Gptq), config);
    }

    [Fact]
    public void ReadsTheQuantizationConfigOfConfigJson()
    {
        const string json = """
            {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
             "quantization_config": {"bits": 3, "group_size": -1, "desc_act": false, "quant_method": "gptq", "checkpoint_format": "gptq_v2"}}
            """;
        GptqConfig config = GptqConfig.Parse(System.Text.Encoding.UTF8.GetBytes(json));
        Assert.Equal(3, config.Bits);
        Assert.Equal(-1, config.GroupSize);
        Assert.False(config.DescAct);
        Assert.True(config.Symmetric);
        Assert.Equal(GptqCheckpointFormat.GptqV2, config.Format);
    }

    [Fact]
    public void DefaultsAreAutoGptqs()
    {
        GptqConfig config = GptqConfig.Parse("""{"bits": 8}""");
        Assert.Equal(new GptqConfig(8, -1, false, true, GptqCheckpointFormat.Gptq), config);
        Assert.Equal(GptqCheckpointFormat.GptqV2, GptqConfig.Parse("""{"bits": 2, "format": "gptq_v2"}""").Format);
    }

    [Theory]
    [InlineData("""{"group_size": 128}""")]
    [InlineData("""{"bits": 5, "group_size": 128}""")]
    [InlineData("""{"bits": "4"}""")]
    [InlineData("""{"bits": 4, "group_size": 0}""")]
    [InlineData("""{"bits": 4, "quant_method": "awq"}""")]
    [InlineData("""{"bits": 4, "checkpoint_format": "marlin"}""")]
    [InlineData("""{"bits": 4, "desc_act": "yes"}""")]
    [InlineData("""{"quantization_config": 4}""")]
    [InlineData("""[4]""")]
    [InlineData("""{"bits": 4""")]
    [InlineData("")]
    public void BadConfigurationsAreInvalidData(string json) =>
        Assert.Throws<InvalidDataException>(() => GptqConfig.Parse(json));

    [Fact]
    public void TheConstructorChecksItsArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>("bits", () => new GptqConfig(6, 128));
        Assert.Throws<ArgumentOutOfRangeException>("groupSize", () => new GptqConfig(4, -2));
        Assert.Throws<ArgumentOutOfRangeException>("format", () => new GptqConfig(4, 128, format: (GptqCheckpointFormat)9));
    }
}

public sealed class AwqConfigTests
{
    [Fact]
    public void ReadsAutoAwqsQuantConfig()
    {
        AwqConfig config = AwqConfig.Parse("""{"zero_point": true, "q_group_size": 128, "w_bit": 4, "version": "GEMM"}""");
        Assert.Equal(128, config.GroupSize);
        Assert.Equal(4, config.Bits);
    }

    [Fact]
    public void ReadsTheQuantizationConfigOfConfigJson()
    {
        AwqConfig config = AwqConfig.Parse(System.Text.Encoding.UTF8.GetBytes(
            """{"model_type": "mistral", "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 64, "version": "gemm", "zero_point": true}}"""));
        Assert.Equal(new AwqConfig(64), config);
    }

    [Theory]
    [InlineData("""{"w_bit": 4}""")]
    [InlineData("""{"q_group_size": 128}""")]
    [InlineData("""{"w_bit": 8, "q_group_size": 128}""")]
    [InlineData("""{"w_bit": 4, "q_group_size": 0}""")]
    [InlineData("""{"w_bit": 4, "q_group_size": 128, "version": "GEMV"}""")]
    [InlineData("""{"w_bit": 4, "q_group_size": 128, "zero_point": false}""")]
    [InlineData("""{"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}}""")]
    [InlineData("""{"w_bit": 4, "q_group_size": 12.5}""")]
    [InlineData("""{"w_bit": 4,""")]
    public void BadConfigurationsAreInvalidData(string json) =>
        Assert.Throws<InvalidDataException>(() => AwqConfig.Parse(json));

    [Fact]
    public void TheMatrixTakesTheConfigurationsGroupSize()
    {
        var matrix = new AwqMatrix(AwqConfig.Parse("""{"w_bit": 4, "q_group_size": -1}""").GroupSize, 32, 8, new byte[128], new byte[4], new byte[16]);
        Assert.Equal(32, matrix.GroupSize);
        Assert.Throws<ArgumentOutOfRangeException>("groupSize", () => new AwqConfig(-3));
    }
}
