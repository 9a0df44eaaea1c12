using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Quantization.Lora;

/// <summary>
/// The parts of a PEFT <c>adapter_config.json</c> that decide how a LoRA adapter is applied: rank, alpha, the
/// targeted modules, rsLoRA scaling, <c>fan_in_fan_out</c>, and the per-module rank and alpha overrides.
/// </summary>
/// <remarks>
/// <c>rank_pattern</c> and <c>alpha_pattern</c> keys are regular expressions matched against the end of a module's
/// dotted name (a key <c>q_proj</c> matches <c>model.layers.0.self_attn.q_proj</c>; a key <c>layers\.0\..*</c> matches
/// only layer 0); the first key in file order that matches wins. Keys the library does not need (dropout, bias,
/// task type, ...) are ignored; an adapter that needs more than A and B to apply (DoRA) is refused.
/// </remarks>
public sealed class PeftLoraConfig
{
    // The patterns come from a file: a pathological one fails after this long instead of hanging.
    private static readonly TimeSpan s_matchTimeout = TimeSpan.FromSeconds(1);

    private readonly KeyValuePair<string, int>[] _rankPattern;
    private readonly KeyValuePair<string, float>[] _alphaPattern;
    private readonly string[] _targetModules;

    /// <summary>Creates a configuration directly (what <see cref="Parse"/> fills in from JSON).</summary>
    /// <param name="rank">r; positive.</param>
    /// <param name="alpha">lora_alpha.</param>
    /// <param name="targetModules">Module names (matched as dotted-name suffixes), or empty for every module.</param>
    /// <param name="targetModulesRegex">A regular expression a module's full name must match instead of <paramref name="targetModules"/>, or <see langword="null"/>.</param>
    /// <param name="useRsLora">Whether the scaling is α/√r (rsLoRA) instead of α/r.</param>
    /// <param name="fanInFanOut">Whether the base layer stores its weight as inputs × outputs (GPT-2's Conv1D).</param>
    /// <param name="rankPattern">Per-module rank overrides, in match order.</param>
    /// <param name="alphaPattern">Per-module alpha overrides, in match order.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> or a pattern's rank is zero or negative.</exception>
    /// <exception cref="ArgumentException">An alpha is not finite, or a pattern is not a valid regular expression.</exception>
    public PeftLoraConfig(int rank, float alpha, IEnumerable<string>? targetModules = null, string? targetModulesRegex = null,
                          bool useRsLora = false, bool fanInFanOut = false,
                          IEnumerable<KeyValuePair<string, int>>? rankPattern = null, IEnumerable<KeyValuePair<string, float>>? alphaPattern = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        CheckAlpha(alpha, nameof(alpha));
        Rank = rank;
        Alpha = alpha;
        _targetModules = targetModules?.ToArray() ?? [];
        TargetModulesRegex = targetModulesRegex;
        UseRsLora = useRsLora;
        FanInFanOut = fanInFanOut;
        _rankPattern = rankPattern?.ToArray() ?? [];
        _alphaPattern = alphaPattern?.ToArray() ?? [];
        foreach (KeyValuePair<string, int> p in _rankPattern)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(p.Value, nameof(rankPattern));
            CheckPattern(p.Key, nameof(rankPattern));
        }

        foreach (KeyValuePair<string, float> p in _alphaPattern)
        {
            CheckAlpha(p.Value, nameof(alphaPattern));
            CheckPattern(p.Key, nameof(alphaPattern));
        }

        if (targetModulesRegex is not null)
        {
            CheckPattern(targetModulesRegex, nameof(targetModulesRegex));
        }
    }

    /// <summary>The default rank r.</summary>
    public int Rank { get; }

    /// <summary>The default lora_alpha.</summary>
    public float Alpha { get; }

    /// <summary>The targeted module names (dotted-name suffixes); empty when every module may carry an adapter.</summary>
    public IReadOnlyList<string> TargetModules => _targetModules;

    /// <summary>The regular expression a module's full name must match, when <c>target_modules</c> is a string.</summary>
    public string? TargetModulesRegex { get; }

    /// <summary>Whether the scaling is α/√r (rsLoRA) rather than α/r.</summary>
    public bool UseRsLora { get; }

    /// <summary>
    /// Whether the base layer stores its weight as inputs × outputs (GPT-2's Conv1D). A and B are stored the same
    /// either way; the flag only says the delta B·A must be transposed to meet such a weight. <see cref="LoraAdapter"/>
    /// is oriented like <see cref="IWeightMatrix"/> (outputs × inputs), the layout a GGUF conversion gives those
    /// layers, so the loaded adapter is B·A as stored.
    /// </summary>
    public bool FanInFanOut { get; }

    /// <summary>Per-module rank overrides (<c>rank_pattern</c>), in match order.</summary>
    public IReadOnlyList<KeyValuePair<string, int>> RankPattern => _rankPattern;

    /// <summary>Per-module alpha overrides (<c>alpha_pattern</c>), in match order.</summary>
    public IReadOnlyList<KeyValuePair<string, float>> AlphaPattern => _alphaPattern;

    /// <summary>Reads an <c>adapter_config.json</c> file.</summary>
    /// <exception cref="InvalidDataException">The file is not a LoRA adapter configuration this version can apply.</exception>
    /// <exception cref="NotSupportedException">The adapter uses DoRA.</exception>
    public static PeftLoraConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Parse(File.ReadAllText(path));
    }

    /// <summary>Parses the text of an <c>adapter_config.json</c>.</summary>
    /// <exception cref="InvalidDataException">The text is not JSON, or not a LoRA adapter configuration this version can apply.</exception>
    /// <exception cref="NotSupportedException">The adapter uses DoRA.</exception>
    public static PeftLoraConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"adapter_config.json is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("adapter_config.json is not a JSON object.");
            }

            if (root.TryGetProperty("peft_type", out JsonElement peftType) && !(peftType.ValueKind == JsonValueKind.String && peftType.GetString() == "LORA"))
            {
                throw new InvalidDataException($"adapter_config.json has peft_type {peftType.GetRawText()}; only LORA adapters are supported.");
            }

            if (root.TryGetProperty("use_dora", out JsonElement dora) && dora.ValueKind == JsonValueKind.True)
            {
                throw new NotSupportedException("The adapter uses DoRA (use_dora: true), which needs magnitude vectors this version does not apply.");
            }

            int rank = root.TryGetProperty("r", out JsonElement r) ? ReadRank(r, "r") : 8; // PEFT's default r
            float alpha = root.TryGetProperty("lora_alpha", out JsonElement a) ? ReadAlpha(a, "lora_alpha") : 8f; // PEFT's default lora_alpha
            List<string>? targets = null;
            string? targetRegex = null;
            if (root.TryGetProperty("target_modules", out JsonElement t))
            {
                switch (t.ValueKind)
                {
                    case JsonValueKind.String:
                        string text = t.GetString()!;
                        if (text != "all-linear")
                        {
                            targetRegex = text;
                        }

                        break;
                    case JsonValueKind.Array:
                        targets = [];
                        foreach (JsonElement e in t.EnumerateArray())
                        {
                            targets.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Bad("target_modules", "a list of strings"));
                        }

                        break;
                    case JsonValueKind.Null:
                        break;
                    default:
                        throw Bad("target_modules", "a string or a list of strings");
                }
            }

            var rankPattern = new List<KeyValuePair<string, int>>();
            foreach (JsonProperty p in Objects(root, "rank_pattern"))
            {
                rankPattern.Add(new(p.Name, ReadRank(p.Value, $"rank_pattern.{p.Name}")));
            }

            var alphaPattern = new List<KeyValuePair<string, float>>();
            foreach (JsonProperty p in Objects(root, "alpha_pattern"))
            {
                alphaPattern.Add(new(p.Name, ReadAlpha(p.Value, $"alpha_pattern.{p.Name}")));
            }

            try
            {
                return new PeftLoraConfig(rank, alpha, targets, targetRegex, ReadBool(root, "use_rslora"), ReadBool(root, "fan_in_fan_out"),
                                          rankPattern, alphaPattern);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidDataException($"adapter_config.json: {ex.Message}", ex);
            }
        }
    }

    /// <summary>Whether the module named <paramref name="moduleName"/> (e.g. <c>model.layers.0.self_attn.q_proj</c>) is targeted.</summary>
    public bool Targets(string moduleName)
    {
        ArgumentNullException.ThrowIfNull(moduleName);
        if (TargetModulesRegex is not null)
        {
            return Regex.IsMatch(moduleName, $"^(?:{TargetModulesRegex})$", RegexOptions.CultureInvariant, s_matchTimeout);
        }

        if (_targetModules.Length == 0)
        {
            return true;
        }

        foreach (string target in _targetModules)
        {
            if (moduleName == target || moduleName.EndsWith("." + target, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The rank of the module named <paramref name="moduleName"/>: the first matching <see cref="RankPattern"/> entry, else <see cref="Rank"/>.</summary>
    public int GetRank(string moduleName) => Match(_rankPattern, moduleName, Rank);

    /// <summary>The alpha of the module named <paramref name="moduleName"/>: the first matching <see cref="AlphaPattern"/> entry, else <see cref="Alpha"/>.</summary>
    public float GetAlpha(string moduleName) => Match(_alphaPattern, moduleName, Alpha);

    /// <summary>The scaling of the module named <paramref name="moduleName"/>: α/r, or α/√r with <see cref="UseRsLora"/>.</summary>
    public float GetScaling(string moduleName) => LoraAdapter.GetScaling(GetAlpha(moduleName), GetRank(moduleName), UseRsLora);

    private static T Match<T>(KeyValuePair<string, T>[] patterns, string moduleName, T fallback)
    {
        ArgumentNullException.ThrowIfNull(moduleName);
        foreach (KeyValuePair<string, T> p in patterns)
        {
            // PEFT's rule: the key, as a regular expression, matches the whole name or a dotted suffix of it.
            if (Regex.IsMatch(moduleName, $"^(?:.*\\.)?(?:{p.Key})$", RegexOptions.CultureInvariant, s_matchTimeout))
            {
                return p.Value;
            }
        }

        return fallback;
    }

    private static IEnumerable<JsonProperty> Objects(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        return value.ValueKind == JsonValueKind.Object ? value.EnumerateObject() : throw Bad(name, "an object");
    }

    private static int ReadRank(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int rank) && rank > 0 ? rank : throw Bad(name, "a positive integer");

    private static float ReadAlpha(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double alpha) && float.IsFinite((float)alpha) ? (float)alpha : throw Bad(name, "a finite number");

    private static bool ReadBool(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(name, "true or false"),
        };
    }

    private static InvalidDataException Bad(string name, string expected) =>
        new(string.Create(CultureInfo.InvariantCulture, $"adapter_config.json: '{name}' must be {expected}."));

    private static void CheckAlpha(float alpha, string paramName)
    {
        if (!float.IsFinite(alpha))
        {
            ThrowHelper.ThrowArgument(paramName, $"The alpha {alpha} is not finite.");
        }
    }

    private static void CheckPattern(string pattern, string paramName)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.CultureInvariant);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"'{pattern}' is not a valid regular expression: {ex.Message}", paramName, ex);
        }
    }
}
