using System.Reflection;

namespace Quantization.Tests.Properties;

/// <summary>Conventions every public member follows (docs/architecture.md#threads).</summary>
public sealed class ApiConsistencyTests
{
    private static IEnumerable<MethodBase> PublicMethods() =>
        typeof(Quantizer).Assembly.GetExportedTypes()
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .OfType<MethodBase>();

    [Fact]
    public void EveryThreadCountDefaultsToOnePerProcessor()
    {
        var found = new List<string>();
        var wrong = new List<string>();
        foreach (MethodBase method in PublicMethods())
        {
            foreach (ParameterInfo p in method.GetParameters().Where(p => p.Name == "maxDegreeOfParallelism"))
            {
                string name = $"{method.DeclaringType!.Name}.{method.Name}";
                found.Add(name);
                if (!p.HasDefaultValue || !Equals(p.DefaultValue, -1))
                {
                    wrong.Add($"{name}: {(p.HasDefaultValue ? p.DefaultValue : "no default")}");
                }
            }
        }

        Assert.Contains("Quantizer.QuantizeParallel", found);
        Assert.Contains("QuantizedMath.MatVec", found);
        Assert.Contains("QuantizedMatrix.MatMul", found);
        Assert.True(wrong.Count == 0, "maxDegreeOfParallelism must default to -1:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void LongCallsThatTakeProgressAlsoTakeCancellation()
    {
        foreach (MethodBase method in PublicMethods())
        {
            ParameterInfo[] parameters = method.GetParameters();
            if (parameters.Any(p => p.ParameterType.IsGenericType && p.ParameterType.GetGenericTypeDefinition() == typeof(IProgress<>)))
            {
                // An options object (GptqOptions, AwqOptions) carries both as properties.
                bool optionsObject = method.IsSpecialName && method.Name.StartsWith("set_", StringComparison.Ordinal) &&
                                     method.DeclaringType!.GetProperties().Any(p => p.PropertyType == typeof(CancellationToken));
                Assert.True(optionsObject || parameters.Any(p => p.ParameterType == typeof(CancellationToken)),
                            $"{method.DeclaringType!.Name}.{method.Name} reports progress but cannot be cancelled");
            }
        }
    }
}
