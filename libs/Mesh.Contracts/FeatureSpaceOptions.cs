using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace Mesh.Contracts;

/// <summary>
/// The configured features of <c>/v1/rank</c> (section <c>FeatureSpace</c>), beside the built-in ones (user, surface,
/// device, hour, ad, category, the behaviour sequence). The router validates requests against it, the trainer builds
/// version 0 from it; a published version carries the schema it was trained with, which is what serving encodes.
/// Empty by default: no extra features, and the models, graphs and checkpoints are those of a mesh without any.
/// </summary>
/// <example>
/// <c>--FeatureSpace:Features:0:Name=segment --FeatureSpace:Features:0:Side=Context --FeatureSpace:Features:0:Kind=Categorical</c>
/// </example>
public sealed class FeatureSpaceOptions : IValidatableObject
{
    /// <summary>Most features one space may configure.</summary>
    public const int MaxFeatures = 64;

    /// <summary>The configured features, in the order their fields follow the built-in ones. Default none.</summary>
    public IList<FeatureDefinition> Features { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Features.Count > MaxFeatures)
        {
            yield return new ValidationResult($"At most {MaxFeatures} features; got {Features.Count}.", [nameof(Features)]);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Features.Count; i++)
        {
            var member = $"{nameof(Features)}:{i}";
            if (Features[i] is not { } feature)
            {
                yield return new ValidationResult($"{member} is empty.", [member]);
                continue;
            }

            foreach (var error in feature.Errors())
            {
                yield return new ValidationResult($"{member} ({feature.Name}): {error}", [member]);
            }

            if (feature.Name is { } name && !names.Add(name))
            {
                yield return new ValidationResult($"{member}: the name '{name}' is configured twice.", [member]);
            }
        }
    }
}

/// <summary>One configured feature: its name in requests, which side it describes, and how the models read it.</summary>
public sealed partial class FeatureDefinition
{
    /// <summary>Largest <see cref="Buckets"/>: 2^20 rows of a tier's field width.</summary>
    public const int MaxBuckets = 1 << 20;

    /// <summary>Largest <see cref="MaxValues"/> of a categorical list.</summary>
    public const int MaxListValues = 64;

    /// <summary>
    /// The key in <c>context.features</c> or <c>candidates[i].features</c>: 1 to 64 of <c>A-Z a-z 0-9 _ -</c> (it also
    /// names the ONNX input <c>feature.&lt;name&gt;</c> and the parameters). Required.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>Context: one value per request (the user or the request); Candidate: one per ad. Default Context.</summary>
    public FeatureSide Side { get; set; }

    /// <summary>Categorical: a string, a number read as its text, or a list of them; Numeric: one finite number. Default Categorical.</summary>
    public FeatureKind Kind { get; set; }

    /// <summary>Categorical: hash buckets (embedding rows), a power of two from 2 to <see cref="MaxBuckets"/>. Default 1024.</summary>
    public int Buckets { get; set; } = 1024;

    /// <summary>Categorical: values a list may have, 1 to <see cref="MaxListValues"/>; the first ones are read, the rest dropped and counted. Default 1.</summary>
    public int MaxValues { get; set; } = 1;

    /// <summary>Numeric: applied before the model reads the value. Default None.</summary>
    public FeatureTransform Transform { get; set; }

    internal IEnumerable<string> Errors()
    {
        if (string.IsNullOrEmpty(Name) || !NamePattern().IsMatch(Name))
        {
            yield return "Name is required: 1 to 64 of A-Z a-z 0-9 _ -.";
        }

        if (!Enum.IsDefined(Side))
        {
            yield return $"Side must be Context or Candidate; got {Side}.";
        }

        if (!Enum.IsDefined(Kind))
        {
            yield return $"Kind must be Categorical or Numeric; got {Kind}.";
        }

        if (!Enum.IsDefined(Transform))
        {
            yield return $"Transform must be None or Log1p; got {Transform}.";
        }

        if (Kind == FeatureKind.Categorical)
        {
            if (Buckets is < 2 or > MaxBuckets || (Buckets & (Buckets - 1)) != 0)
            {
                yield return $"Buckets must be a power of two from 2 to {MaxBuckets}; got {Buckets}.";
            }

            if (MaxValues is < 1 or > MaxListValues)
            {
                yield return $"MaxValues must be from 1 to {MaxListValues}; got {MaxValues}.";
            }

            if (Transform != FeatureTransform.None)
            {
                yield return "Transform applies to numeric features only.";
            }
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();
}

/// <summary>Which rows a feature describes.</summary>
public enum FeatureSide
{
    /// <summary>The request or its user: <c>context.features</c>, one value per request.</summary>
    Context,

    /// <summary>The ad: <c>candidates[i].features</c>, one value per candidate.</summary>
    Candidate,
}

/// <summary>How a feature's values are read.</summary>
public enum FeatureKind
{
    /// <summary>Strings (or numbers by their text), one or a list, hashed into an embedding table.</summary>
    Categorical,

    /// <summary>One finite number, transformed, through a learned projection.</summary>
    Numeric,
}

/// <summary>What a numeric feature goes through before the model reads it.</summary>
public enum FeatureTransform
{
    /// <summary>The value as given.</summary>
    None,

    /// <summary>sign(x)·ln(1 + |x|): heavy-tailed counts, prices and durations to a few units; negatives keep their sign.</summary>
    Log1p,
}
