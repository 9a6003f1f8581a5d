using System.Text.Json;
using Mesh.Contracts;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Features;

/// <summary>
/// The configured feature space as the router applies it (<see cref="FeatureSpaceOptions"/>): validation of the values'
/// kinds, and the features a request is served with, which the ranker reads and the impressions log: configured names
/// on their side only, lists cut to their <see cref="FeatureDefinition.MaxValues"/>, JSON nulls left out. What is left
/// out is counted (<see cref="RouterMetrics"/>), never an error.
/// </summary>
public sealed class FeatureFilter(IOptions<FeatureSpaceOptions> options, RouterMetrics metrics)
{
    private readonly Dictionary<string, FeatureDefinition> _configured = options.Value.Features.ToDictionary(f => f.Name!, StringComparer.Ordinal);

    /// <summary>The configured features by name.</summary>
    public IReadOnlyDictionary<string, FeatureDefinition> Configured => _configured;

    /// <summary>
    /// An error message per configured feature of <paramref name="side"/> whose value is of the wrong kind, or a list
    /// longer than <see cref="ApiLimits.MaxFeatureValues"/>, or with a value longer than
    /// <see cref="ApiLimits.MaxFeatureValueLength"/>, by feature name; names of the other side or not configured are
    /// not checked (they are ignored).
    /// </summary>
    public IEnumerable<(string Name, string Message)> Errors(IReadOnlyDictionary<string, JsonElement>? features, FeatureSide side)
    {
        if (features is null)
        {
            yield break;
        }

        foreach (var (name, value) in features)
        {
            if (!_configured.TryGetValue(name, out var feature) || feature.Side != side)
            {
                continue;
            }

            if (feature.Kind == FeatureKind.Categorical && !FeatureValues.IsCategorical(value))
            {
                yield return (name, $"'{name}' is categorical: a string, a number or an array of them; got {Describe(value)}.");
            }
            else if (feature.Kind == FeatureKind.Categorical && value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > ApiLimits.MaxFeatureValues)
            {
                yield return (name, $"'{name}' has {value.GetArrayLength()} values; at most {ApiLimits.MaxFeatureValues} are allowed (the first {feature.MaxValues} are read).");
            }
            else if (feature.Kind == FeatureKind.Categorical && LongestText(value) > ApiLimits.MaxFeatureValueLength)
            {
                yield return (name, $"'{name}' has a value of {LongestText(value)} characters; at most {ApiLimits.MaxFeatureValueLength} are allowed.");
            }
            else if (feature.Kind == FeatureKind.Numeric && !FeatureValues.TryReadNumeric(value, out _))
            {
                yield return (name, $"'{name}' is numeric: a finite number; got {Describe(value)}.");
            }
        }
    }

    /// <summary>
    /// The features the model reads of a valid request's <paramref name="features"/>: configured names of
    /// <paramref name="side"/>, lists cut to their maximum; null when none is left. Counts the names ignored and the
    /// list values dropped.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement>? Served(IReadOnlyDictionary<string, JsonElement>? features, FeatureSide side)
    {
        if (features is null || features.Count == 0)
        {
            return null;
        }

        Dictionary<string, JsonElement>? served = null;
        int unknown = 0, dropped = 0;
        foreach (var (name, value) in features)
        {
            if (!_configured.TryGetValue(name, out var feature) || feature.Side != side)
            {
                unknown++;
                continue;
            }

            if (value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            var kept = value;
            if (feature.Kind == FeatureKind.Categorical && value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > feature.MaxValues)
            {
                dropped += value.GetArrayLength() - feature.MaxValues;
                kept = JsonSerializer.SerializeToElement(value.EnumerateArray().Take(feature.MaxValues).ToArray());
            }

            served ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            served[name] = kept;
        }

        metrics.CountFeatures(unknown, dropped);
        return served;
    }

    /// <summary>Characters of the longest value of a categorical value or list (a number by its JSON text).</summary>
    private static int LongestText(JsonElement value) => value.ValueKind == JsonValueKind.Array
        ? value.EnumerateArray().Select(TextLength).DefaultIfEmpty(0).Max()
        : TextLength(value);

    private static int TextLength(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()!.Length : value.GetRawText().Length;

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array with a value that is neither a string nor a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number out of range",
        _ => value.ValueKind.ToString(),
    };
}
