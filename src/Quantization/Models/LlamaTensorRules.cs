using Quantization.Formats;

namespace Quantization.Models;

/// <summary>
/// llama.cpp's choice of each tensor's type for a preset (<c>src/llama-quant.cpp</c>: which tensors are quantized at all,
/// the per-category rules with their layer counters, the overrides, and the fallback for rows that do not fit a type's
/// blocks), ported rule by rule. The counters make the result depend on the tensor order, so the plan is made in
/// llama.cpp's output order. docs/presets.md describes the rules.
/// </summary>
internal sealed class LlamaTensorRules
{
    private enum Category
    {
        TokenEmbedding,
        AttentionQ,
        AttentionV,
        AttentionK,
        AttentionQkv,
        AttentionKvB,
        AttentionOutput,
        FfnUp,
        FfnGate,
        FfnDown,
        Output,
        Other,
    }

    private readonly QuantizationRecipe _recipe;
    private readonly ModelDescription _model;
    private readonly QuantizationPreset _preset;
    private readonly bool _hasImportance;
    private readonly bool _tiedEmbeddings;
    private readonly int _attentionVCount;
    private readonly int _layerCount;
    private int _attentionV;
    private int _ffnDown;
    private int _ffnGate;
    private int _ffnUp;
    private int _fallbacks;

    private LlamaTensorRules(QuantizationRecipe recipe, ModelDescription model, bool hasImportance, IReadOnlyList<ModelTensor> ordered)
    {
        _recipe = recipe;
        _model = model;
        _preset = recipe.Preset;
        _hasImportance = hasImportance;
        _tiedEmbeddings = !ordered.Any(t => CategoryOf(t.Name) == Category.Output);
        _attentionVCount = ordered.Count(t => IsAttentionV(CategoryOf(t.Name)));
        _layerCount = model.LayerCount;
    }

    public static QuantizationPlan Plan(QuantizationRecipe recipe, ModelDescription model, bool hasImportance)
    {
        ModelTensor[] ordered = [.. model.Tensors];
        Array.Sort(ordered, (a, b) => CompareNames(a.Name, b.Name));
        for (int i = 1; i < ordered.Length; i++)
        {
            if (ordered[i].Name == ordered[i - 1].Name)
            {
                throw new InvalidDataException($"The model has two tensors named '{ordered[i].Name}'.");
            }
        }

        var rules = new LlamaTensorRules(recipe, model, hasImportance, ordered);
        var decisions = new TensorDecision[ordered.Length];
        for (int i = 0; i < ordered.Length; i++)
        {
            ModelTensor t = ordered[i];
            string? refusal = rules.RefusesQuantization(t);
            if (refusal is not null)
            {
                decisions[i] = new TensorDecision(t, t.Type, "kept: " + refusal, RequiresImportance: false);
                continue;
            }

            (QuantType type, string rule) = rules.Choose(t);
            decisions[i] = new TensorDecision(t, type, rule, RequiresImportance(t.Name, type, recipe.Preset));
        }

        return new QuantizationPlan(recipe, model, hasImportance, decisions, rules._fallbacks);
    }

    /// <summary>llama.cpp's tensor order: by the layer number after "blk." (−1 outside layers), then by name, bytewise.</summary>
    internal static int CompareNames(string a, string b)
    {
        int la = LayerOf(a), lb = LayerOf(b);
        return la != lb ? la.CompareTo(lb) : string.CompareOrdinal(a, b);
    }

    /// <summary>The number after a leading "blk." (as C's <c>sscanf("blk.%d.")</c> reads it), or −1.</summary>
    private static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal))
        {
            return -1;
        }

        int i = 4;
        bool negative = false;
        if (i < name.Length && (name[i] == '-' || name[i] == '+'))
        {
            negative = name[i] == '-';
            i++;
        }

        long value = 0;
        int start = i;
        while (i < name.Length && char.IsAsciiDigit(name[i]) && value <= int.MaxValue)
        {
            value = value * 10 + (name[i] - '0');
            i++;
        }

        return i == start ? -1 : (int)Math.Clamp(negative ? -value : value, int.MinValue, int.MaxValue);
    }

    private static Category CategoryOf(string name)
    {
        if (name == "output.weight")
        {
            return Category.Output;
        }

        if (IsTokenEmbedding(name))
        {
            return Category.TokenEmbedding;
        }

        return name.Contains("attn_qkv.weight", StringComparison.Ordinal) ? Category.AttentionQkv
            : name.Contains("attn_kv_b.weight", StringComparison.Ordinal) ? Category.AttentionKvB
            : name.Contains("attn_v.weight", StringComparison.Ordinal) ? Category.AttentionV
            : name.Contains("attn_k.weight", StringComparison.Ordinal) ? Category.AttentionK
            : name.Contains("attn_q.weight", StringComparison.Ordinal) ? Category.AttentionQ
            : name.Contains("attn_output.weight", StringComparison.Ordinal) ? Category.AttentionOutput
            : name.Contains("ffn_up", StringComparison.Ordinal) ? Category.FfnUp
            : name.Contains("ffn_gate", StringComparison.Ordinal) ? Category.FfnGate
            : name.Contains("ffn_down", StringComparison.Ordinal) ? Category.FfnDown
            : Category.Other;
    }

    private static bool IsTokenEmbedding(string name) => name is "token_embd.weight" or "per_layer_token_embd.weight";

    private static bool IsAttentionV(Category c) => c is Category.AttentionV or Category.AttentionQkv or Category.AttentionKvB;

    /// <summary>Name fragments of tensors llama.cpp never quantizes (small, or not weights of a matrix product).</summary>
    private static readonly string[] s_keptFragments =
    [
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
        "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_",
        ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    ];

    /// <summary>Why llama.cpp leaves <paramref name="t"/> as it is, or null when it may be quantized.</summary>
    private string? RefusesQuantization(ModelTensor t)
    {
        if (t.Rank < 2)
        {
            return "1-D";
        }

        string name = t.Name;
        if (!name.EndsWith("weight", StringComparison.Ordinal))
        {
            return "not a weight";
        }

        if (_recipe.LeaveOutputTensor && name == "output.weight")
        {
            return "output tensor left as it is";
        }

        if (name is "position_embd.weight" or "token_types.weight")
        {
            return "position / token-type embedding";
        }

        foreach (string fragment in s_keptFragments)
        {
            if (name.Contains(fragment, StringComparison.Ordinal))
            {
                return "never quantized (" + fragment.Trim('.', '_') + ")";
            }
        }

        return null;
    }

    /// <summary>llama.cpp's <c>llama_tensor_get_type</c> for a tensor that may be quantized.</summary>
    private (QuantType Type, string Rule) Choose(ModelTensor t)
    {
        Category category = CategoryOf(t.Name);
        if (_recipe.TokenEmbeddingType is QuantType embedding && category == Category.TokenEmbedding)
        {
            return (embedding, "--token-embedding-type");
        }

        if (_recipe.OutputTensorType is QuantType output && category == Category.Output)
        {
            return (output, "--output-tensor-type");
        }

        QuantType type = _recipe.DefaultType;
        string rule = "preset default";
        if (!IsQuantized(type))
        {
            return (type, rule);
        }

        bool manual = false;
        foreach (TensorTypeOverride o in _recipe.TensorTypes)
        {
            if (o.IsMatch(t.Name))
            {
                type = o.Type;
                rule = $"--tensor-type {o.Pattern}";
                manual = true;
                break;
            }
        }

        if (!manual && !_recipe.Pure)
        {
            (type, string? chosen) = ChooseByRules(t, type, category);
            rule = chosen ?? rule;
        }
        else if (!manual)
        {
            rule = "--pure";
        }

        return Fallback(t, type, rule);
    }

    private static bool IsQuantized(QuantType type) =>
        FormatRegistry.TryGet(type)?.Family is not (FormatFamily.Float or FormatFamily.Plain or null);

    private static int BlockSize(QuantType type) => QuantFormat.Get(type).BlockSize;

    /// <summary>llama.cpp's <c>tensor_type_fallback</c>: a type whose blocks fit the row, for rows that do not fit the chosen one.</summary>
    private (QuantType, string) Fallback(ModelTensor t, QuantType type, string rule)
    {
        long columns = t.RowLength;
        if (columns % BlockSize(type) == 0)
        {
            return (type, rule);
        }

        _fallbacks++;
        QuantType fallback = type switch
        {
            QuantType.IQ1_S or QuantType.IQ1_M or QuantType.IQ2_XXS or QuantType.IQ2_XS or QuantType.IQ2_S or QuantType.IQ3_XXS
                or QuantType.IQ3_S or QuantType.IQ4_XS => QuantType.IQ4_NL,
            QuantType.Q2_0 or QuantType.Q2_K or QuantType.Q3_K or QuantType.TQ1_0 or QuantType.TQ2_0 => QuantType.Q4_0,
            QuantType.Q4_K => QuantType.Q5_0,
            QuantType.Q5_K => QuantType.Q5_1,
            QuantType.Q6_K => QuantType.Q8_0,
            _ => throw new InvalidDataException(
                $"Tensor '{t.Name}': rows of {columns} values do not fit {QuantFormat.Get(type).Name} blocks of {BlockSize(type)}, and that type has no fallback."),
        };
        if (columns % BlockSize(fallback) != 0)
        {
            fallback = QuantType.F16;
        }

        return (fallback, $"{rule}; rows of {columns} do not fit {QuantFormat.Get(type).Name}: fallback");
    }

    /// <summary>Whether llama-quantize refuses to write <paramref name="type"/> for this tensor without importance data.</summary>
    private static bool RequiresImportance(string name, QuantType type, QuantizationPreset preset)
    {
        if (IsTokenEmbedding(name) || name == "output.weight")
        {
            return false;
        }

        return type switch
        {
            QuantType.IQ3_XXS or QuantType.IQ2_XXS or QuantType.IQ2_XS or QuantType.IQ2_S or QuantType.IQ1_M or QuantType.IQ1_S => true,
            QuantType.Q2_K => preset == QuantizationPreset.Q2_K_S,
            _ => false,
        };
    }

    /// <summary>The "more bits" layers of the _M mixes: the first and last eighth, and every third layer between.</summary>
    private static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>The layer of a feed-forward tensor: its counter, or for expert models the number in its name.</summary>
    private int LayerOf(ModelTensor t, int counter)
    {
        if (Math.Max(1, _model.ExpertCount) <= 1)
        {
            return counter;
        }

        int layer = LayerOf(t.Name);
        if (layer < 0 || layer >= _layerCount)
        {
            throw new InvalidDataException($"Cannot tell the layer of expert-model tensor '{t.Name}' (layers 0 to {_layerCount - 1}).");
        }

        return layer;
    }

    private bool Is(params QuantizationPreset[] presets) => Array.IndexOf(presets, _preset) >= 0;

    /// <summary>llama.cpp's <c>llama_tensor_get_type_impl</c>; returns the type and the rule, or a null rule where none applied.</summary>
    private (QuantType, string?) ChooseByRules(ModelTensor t, QuantType type, Category category)
    {
        string arch = _model.Architecture;
        bool falcon = arch == "falcon";
        int gqa = _model.GroupedQueryRatio;
        int experts = _model.ExpertCount;
        string? rule = null;
        void Set(QuantType to, string why)
        {
            type = to;
            rule = why;
        }

        if (category == Category.Output || (_tiedEmbeddings && category == Category.TokenEmbedding))
        {
            string what = category == Category.Output ? "output" : "tied token embeddings";
            if (_recipe.OutputTensorType is QuantType output)
            {
                Set(output, "--output-tensor-type");
            }
            else if (_preset == QuantizationPreset.MXFP4_MOE)
            {
                Set(QuantType.Q8_0, what + ": Q8_0 in MXFP4_MOE");
            }
            else if (falcon || t.RowLength % BlockSize(type) != 0)
            {
                Set(QuantType.Q8_0, what + (falcon ? ": Q8_0 for falcon" : ": Q8_0, rows do not fit the blocks"));
            }
            else if (Is(QuantizationPreset.IQ2_XXS, QuantizationPreset.IQ2_XS, QuantizationPreset.IQ3_XXS, QuantizationPreset.IQ1_S,
                        QuantizationPreset.IQ2_S, QuantizationPreset.IQ2_M, QuantizationPreset.IQ1_M))
            {
                Set(QuantType.Q5_K, what + ": Q5_K for low-bit IQ");
            }
            else if (type != QuantType.Q8_0)
            {
                Set(QuantType.Q6_K, what + ": Q6_K");
            }
        }
        else if (_preset == QuantizationPreset.MXFP4_MOE)
        {
            bool bailing3 = arch == "bailingmoe3";
            bool expertRole = category is Category.FfnUp or Category.FfnGate or Category.FfnDown;
            if (t.Slices > 1 && (!bailing3 || expertRole))
            {
                Set(QuantType.MXFP4, "experts (3-D): MXFP4");
            }
            else
            {
                Set(QuantType.Q8_0, "not experts: Q8_0");
            }
        }
        else if (category == Category.TokenEmbedding)
        {
            if (_recipe.TokenEmbeddingType is QuantType embedding)
            {
                Set(embedding, "--token-embedding-type");
            }
            else if (Is(QuantizationPreset.IQ2_XXS, QuantizationPreset.IQ2_XS, QuantizationPreset.IQ1_S, QuantizationPreset.IQ1_M))
            {
                Set(QuantType.Q2_K, "token embeddings: Q2_K for low-bit IQ");
            }
            else if (Is(QuantizationPreset.IQ2_S, QuantizationPreset.IQ2_M, QuantizationPreset.IQ3_XXS))
            {
                Set(QuantType.IQ3_S, "token embeddings: IQ3_S");
            }
            else if (Is(QuantizationPreset.TQ1_0, QuantizationPreset.TQ2_0))
            {
                Set(QuantType.Q4_K, "token embeddings: Q4_K for ternary");
            }
        }
        else if (Is(QuantizationPreset.IQ2_XXS, QuantizationPreset.IQ2_XS, QuantizationPreset.IQ1_S, QuantizationPreset.IQ2_S,
                    QuantizationPreset.IQ2_M, QuantizationPreset.IQ1_M))
        {
            bool iq2sm = Is(QuantizationPreset.IQ2_S, QuantizationPreset.IQ2_M);
            if (IsAttentionV(category))
            {
                if (gqa >= 4 || experts >= 4)
                {
                    Set(QuantType.Q4_K, "attn_v: Q4_K with GQA >= 4 or >= 4 experts");
                }
                else
                {
                    Set(iq2sm ? QuantType.IQ3_S : QuantType.Q2_K, "attn_v: " + (iq2sm ? "IQ3_S" : "Q2_K"));
                }

                _attentionV++;
            }
            else if (experts == 8 && category == Category.AttentionK)
            {
                Set(QuantType.Q4_K, "attn_k: Q4_K with 8 experts");
            }
            else if (category == Category.FfnDown)
            {
                if (_ffnDown < _layerCount / 8)
                {
                    Set(iq2sm ? QuantType.IQ3_S : QuantType.Q2_K, "ffn_down: first eighth of layers");
                }

                _ffnDown++;
            }
            else if (category == Category.AttentionOutput)
            {
                if (experts == 8)
                {
                    Set(QuantType.Q5_K, "attn_output: Q5_K with 8 experts");
                }
                else if (Is(QuantizationPreset.IQ1_S, QuantizationPreset.IQ1_M))
                {
                    Set(QuantType.IQ2_XXS, "attn_output: IQ2_XXS");
                }
                else if (iq2sm)
                {
                    Set(QuantType.IQ3_S, "attn_output: IQ3_S");
                }
            }
        }
        else if (IsAttentionV(category))
        {
            // Fused QKV and MLA's kv_b count as attention values here, so llama.cpp's separate QKV rules never apply.
            if (_preset == QuantizationPreset.Q2_K)
            {
                Set(gqa >= 4 ? QuantType.Q4_K : QuantType.Q3_K, gqa >= 4 ? "attn_v: Q4_K with GQA >= 4" : "attn_v: Q3_K");
            }
            else if (_preset == QuantizationPreset.Q2_K_S && gqa >= 4)
            {
                Set(QuantType.Q4_K, "attn_v: Q4_K with GQA >= 4");
            }
            else if (_preset == QuantizationPreset.IQ3_XXS)
            {
                Set(gqa >= 4 ? QuantType.Q4_K : !_hasImportance ? QuantType.IQ3_S : QuantType.IQ3_XXS,
                    gqa >= 4 ? "attn_v: Q4_K with GQA >= 4" : !_hasImportance ? "attn_v: IQ3_S without importance" : "attn_v: IQ3_XXS with importance");
            }
            else if (Is(QuantizationPreset.IQ3_XS, QuantizationPreset.IQ3_S) && gqa >= 4)
            {
                Set(QuantType.Q4_K, "attn_v: Q4_K with GQA >= 4");
            }
            else if (_preset == QuantizationPreset.IQ3_M)
            {
                Set(QuantType.Q4_K, "attn_v: Q4_K");
            }
            else if (_preset == QuantizationPreset.Q3_K_M)
            {
                Set(_attentionV < 2 ? QuantType.Q5_K : QuantType.Q4_K, _attentionV < 2 ? "attn_v: Q5_K in the first two" : "attn_v: Q4_K");
            }
            else if (_preset == QuantizationPreset.Q3_K_L)
            {
                Set(QuantType.Q5_K, "attn_v: Q5_K");
            }
            else if (Is(QuantizationPreset.IQ4_NL, QuantizationPreset.IQ4_XS) && gqa >= 4)
            {
                Set(QuantType.Q5_K, "attn_v: Q5_K with GQA >= 4");
            }
            else if (Is(QuantizationPreset.Q4_K_M, QuantizationPreset.Q5_K_M) && UseMoreBits(_attentionV, _attentionVCount))
            {
                Set(QuantType.Q6_K, "attn_v: Q6_K, use_more_bits");
            }
            else if (_preset == QuantizationPreset.Q4_K_S && _attentionV < 4)
            {
                Set(QuantType.Q5_K, "attn_v: Q5_K in the first four");
            }

            if (_model.Is70B && type is QuantType.Q3_K or QuantType.Q4_K)
            {
                Set(QuantType.Q5_K, "attn_v: Q5_K at 70B");
            }

            if (experts == 8)
            {
                Set(QuantType.Q8_0, "attn_v: Q8_0 with 8 experts");
            }

            _attentionV++;
        }
        else if (category == Category.AttentionK)
        {
            if (experts == 8)
            {
                Set(QuantType.Q8_0, "attn_k: Q8_0 with 8 experts");
            }
            else if (_preset == QuantizationPreset.IQ3_XS)
            {
                Set(QuantType.IQ3_XXS, "attn_k: IQ3_XXS");
            }
            else if (_preset == QuantizationPreset.IQ3_XXS)
            {
                Set(QuantType.IQ2_S, "attn_k: IQ2_S");
            }
        }
        else if (category == Category.AttentionQ)
        {
            if (_preset == QuantizationPreset.IQ3_XS)
            {
                Set(QuantType.IQ3_XXS, "attn_q: IQ3_XXS");
            }
            else if (_preset == QuantizationPreset.IQ3_XXS)
            {
                Set(QuantType.IQ2_S, "attn_q: IQ2_S");
            }
        }
        else if (category == Category.FfnDown)
        {
            int layer = LayerOf(t, _ffnDown), n = _layerCount;
            if (_preset == QuantizationPreset.Q2_K)
            {
                Set(QuantType.Q3_K, "ffn_down: Q3_K");
            }
            else if (_preset == QuantizationPreset.Q2_K_S)
            {
                if (layer < n / 8)
                {
                    Set(QuantType.Q4_K, "ffn_down: Q4_K in the first eighth");
                }
            }
            else if (_preset == QuantizationPreset.IQ3_XXS && !_hasImportance)
            {
                Set(layer < n / 8 ? QuantType.Q4_K : QuantType.Q3_K, layer < n / 8 ? "ffn_down: Q4_K in the first eighth, no importance" : "ffn_down: Q3_K without importance");
            }
            else if (_preset == QuantizationPreset.Q3_K_M)
            {
                if (layer < n / 16)
                {
                    Set(QuantType.Q5_K, "ffn_down: Q5_K in the first sixteenth");
                }
                else if (!falcon || UseMoreBits(layer, n))
                {
                    Set(QuantType.Q4_K, falcon ? "ffn_down: Q4_K, use_more_bits (falcon)" : "ffn_down: Q4_K");
                }
                else
                {
                    Set(QuantType.Q3_K, "ffn_down: Q3_K (falcon)");
                }
            }
            else if (_preset == QuantizationPreset.IQ3_M && (layer < n / 8 || (experts == 8 && UseMoreBits(layer, n))))
            {
                Set(QuantType.Q4_K, "ffn_down: Q4_K in the first eighth");
            }
            else if (_preset == QuantizationPreset.Q3_K_L)
            {
                Set(falcon ? QuantType.Q4_K : QuantType.Q5_K, falcon ? "ffn_down: Q4_K (falcon)" : "ffn_down: Q5_K");
            }
            else if (_preset == QuantizationPreset.Q4_K_M)
            {
                if (falcon)
                {
                    Set(layer < n / 16 ? QuantType.Q6_K : UseMoreBits(layer, n) ? QuantType.Q5_K : QuantType.Q4_K,
                        layer < n / 16 ? "ffn_down: Q6_K in the first sixteenth (falcon)" : "ffn_down: use_more_bits (falcon)");
                }
                else if (UseMoreBits(layer, n))
                {
                    Set(QuantType.Q6_K, "ffn_down: Q6_K, use_more_bits");
                }
            }
            else if (layer < n / 8 && Is(QuantizationPreset.IQ4_NL, QuantizationPreset.IQ4_XS) && !_hasImportance)
            {
                Set(QuantType.Q5_K, "ffn_down: Q5_K in the first eighth, no importance");
            }
            else if (_preset == QuantizationPreset.Q5_K_M && UseMoreBits(layer, n))
            {
                Set(QuantType.Q6_K, "ffn_down: Q6_K, use_more_bits");
            }
            else if (_preset == QuantizationPreset.Q4_K_S && !falcon && layer < n / 8)
            {
                Set(QuantType.Q5_K, "ffn_down: Q5_K in the first eighth");
            }
            else if (Is(QuantizationPreset.Q4_0, QuantizationPreset.Q5_0) && _hasImportance && layer < n / 8)
            {
                // With importance only, so that a file without it stays what it always was.
                Set(_preset == QuantizationPreset.Q4_0 ? QuantType.Q4_1 : QuantType.Q5_1, "ffn_down: first eighth with importance");
            }

            _ffnDown++;
        }
        else if (category == Category.AttentionOutput)
        {
            if (!falcon)
            {
                if (experts == 8)
                {
                    if (Is(QuantizationPreset.Q2_K, QuantizationPreset.IQ3_XS, QuantizationPreset.IQ3_XXS, QuantizationPreset.Q3_K_S,
                           QuantizationPreset.Q3_K_M, QuantizationPreset.IQ4_NL, QuantizationPreset.Q4_K_S, QuantizationPreset.Q4_K_M,
                           QuantizationPreset.IQ3_S, QuantizationPreset.IQ3_M, QuantizationPreset.IQ4_XS))
                    {
                        Set(QuantType.Q5_K, "attn_output: Q5_K with 8 experts");
                    }
                }
                else if (_preset == QuantizationPreset.Q2_K)
                {
                    Set(QuantType.Q3_K, "attn_output: Q3_K");
                }
                else if (_preset == QuantizationPreset.IQ3_XXS)
                {
                    Set(QuantType.IQ3_S, "attn_output: IQ3_S");
                }
                else if (_preset == QuantizationPreset.Q3_K_M)
                {
                    Set(QuantType.Q4_K, "attn_output: Q4_K");
                }
                else if (_preset == QuantizationPreset.Q3_K_L)
                {
                    Set(QuantType.Q5_K, "attn_output: Q5_K");
                }
                else if (_preset == QuantizationPreset.IQ3_M)
                {
                    Set(QuantType.Q4_K, "attn_output: Q4_K");
                }
            }
            else if (_preset == QuantizationPreset.Q3_K_L)
            {
                Set(QuantType.Q4_K, "attn_output: Q4_K (falcon)");
            }
        }
        else if (category == Category.FfnGate)
        {
            int layer = LayerOf(t, _ffnGate), n = _layerCount;
            if (_preset == QuantizationPreset.IQ3_XS && layer >= n / 8 && layer < 7 * n / 8)
            {
                Set(QuantType.IQ3_XXS, "ffn_gate: IQ3_XXS in the middle layers");
            }

            _ffnGate++;
        }
        else if (category == Category.FfnUp)
        {
            int layer = LayerOf(t, _ffnUp), n = _layerCount;
            if (_preset == QuantizationPreset.IQ3_XS && layer >= n / 8 && layer < 7 * n / 8)
            {
                Set(QuantType.IQ3_XXS, "ffn_up: IQ3_XXS in the middle layers");
            }

            _ffnUp++;
        }

        return (type, rule);
    }
}
