using System.Text.RegularExpressions;

namespace Quantization.Models;

/// <summary>
/// A user's type for the tensors whose name matches <see cref="Pattern"/> (a regular expression searched anywhere in the
/// name, as llama-quantize's <c>--tensor-type PATTERN=TYPE</c>). The first matching override wins; it replaces the
/// preset's rules for that tensor, not the fallback for a row length the type cannot take.
/// </summary>
/// <param name="Pattern">A .NET regular expression (the ECMAScript-like subset llama.cpp's std::regex takes means the same in both).</param>
/// <param name="Type">The type of the matching tensors.</param>
public sealed record TensorTypeOverride(string Pattern, QuantType Type)
{
    private Regex? _regex;

    internal bool IsMatch(string name) => (_regex ??= new Regex(Pattern, RegexOptions.CultureInvariant)).IsMatch(name);
}
