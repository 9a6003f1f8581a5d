using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Mesh.Contracts;
using Mesh.Learning.Checkpoints;

namespace Mesh.Models.Features;

/// <summary>
/// One configured feature as a model reads it (see <see cref="FeatureDefinition"/>): categorical values hash, salted
/// by the feature's name, into <see cref="Buckets"/> rows, of which a list reads its first <see cref="MaxValues"/>;
/// a numeric value goes through <see cref="Transform"/>.
/// </summary>
public sealed record FeatureField(string Name, FeatureSide Side, FeatureKind Kind, int Buckets = 1024, int MaxValues = 1, FeatureTransform Transform = FeatureTransform.None)
{
    /// <summary>The row of <paramref name="value"/> in the feature's table, in [0, <see cref="Buckets"/>).</summary>
    public int Bucket(string value) => StableHash.Bucket(StableHash.Of(Name, value), BitOperations.Log2((uint)Buckets));

    /// <summary>The value the model reads: as given, or sign(x)·ln(1 + |x|) for <see cref="FeatureTransform.Log1p"/>.</summary>
    public float Transformed(double value) => Transform == FeatureTransform.Log1p
        ? (float)(Math.Sign(value) * Math.Log(1 + Math.Abs(value)))
        : (float)value;

    /// <summary>Encoded columns per row: <see cref="MaxValues"/> bucket ids (categorical) or [value, present] (numeric).</summary>
    public int Columns => Kind == FeatureKind.Categorical ? MaxValues : 2;

    public override string ToString() => Kind == FeatureKind.Categorical
        ? string.Create(CultureInfo.InvariantCulture, $"{Name} ({Side}, categorical, {Buckets} buckets × {MaxValues})")
        : string.Create(CultureInfo.InvariantCulture, $"{Name} ({Side}, numeric, {Transform})");
}

/// <summary>
/// The configured features a model version reads, beyond the built-in ones: what the trainer built it with, written
/// into its checkpoint header and its ONNX graphs' metadata, so that a version knows its features whatever the
/// configuration says later. A checkpoint without one has none (<see cref="Empty"/>). Order matters: it is the order of
/// the fields and of the parameters.
/// </summary>
public sealed class FeatureSchema : IEquatable<FeatureSchema>
{
    public FeatureSchema(IEnumerable<FeatureField> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        // Numeric features have no buckets, categorical ones no transform: one spelling per schema, for equality.
        Features = [.. features.Select(f => f.Kind == FeatureKind.Numeric ? f with { Buckets = 0, MaxValues = 0 } : f with { Transform = FeatureTransform.None })];
        var duplicate = Features.GroupBy(f => f.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"feature '{duplicate.Key}' appears twice", nameof(features));
        }

        foreach (var f in Features)
        {
            if (f.Kind == FeatureKind.Categorical && (f.Buckets < 2 || !BitOperations.IsPow2(f.Buckets) || f.MaxValues < 1))
            {
                throw new ArgumentException($"feature '{f.Name}': buckets must be a power of two >= 2 and maxValues >= 1", nameof(features));
            }
        }

        Context = [.. Features.Where(f => f.Side == FeatureSide.Context)];
        Candidate = [.. Features.Where(f => f.Side == FeatureSide.Candidate)];
    }

    /// <summary>No configured features: the built-in fields only.</summary>
    public static FeatureSchema Empty { get; } = new([]);

    public IReadOnlyList<FeatureField> Features { get; }

    /// <summary>The per-request features, in order (their fields follow the built-in user-side fields).</summary>
    public IReadOnlyList<FeatureField> Context { get; }

    /// <summary>The per-candidate features, in order (their fields follow the built-in candidate-side fields).</summary>
    public IReadOnlyList<FeatureField> Candidate { get; }

    public bool IsEmpty => Features.Count == 0;

    /// <summary>The schema of a configuration (validated at start by the options).</summary>
    public static FeatureSchema From(FeatureSpaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(options.Features.Select(d => new FeatureField(d.Name!, d.Side, d.Kind, d.Buckets, d.MaxValues, d.Transform)));
    }

    /// <summary>The checkpoint header's and ONNX metadata's form: <c>[{name, side, kind, buckets, maxValues, transform}]</c>.</summary>
    public JsonArray ToJson() =>
    [
        .. Features.Select(f => (JsonNode)new JsonObject
        {
            ["name"] = f.Name,
            ["side"] = f.Side.ToString(),
            ["kind"] = f.Kind.ToString(),
            ["buckets"] = f.Buckets,
            ["maxValues"] = f.MaxValues,
            ["transform"] = f.Transform.ToString(),
        }),
    ];

    /// <summary>Reads <see cref="ToJson"/>'s form; null (a checkpoint from before features) is <see cref="Empty"/>. Throws <see cref="CheckpointException"/> when malformed.</summary>
    public static FeatureSchema FromJson(JsonNode? json)
    {
        if (json is null)
        {
            return Empty;
        }

        try
        {
            return new(json.AsArray().Select(n => new FeatureField(
                (string)n!["name"]!,
                Enum.Parse<FeatureSide>((string)n["side"]!),
                Enum.Parse<FeatureKind>((string)n["kind"]!),
                (int)n["buckets"]!,
                (int)n["maxValues"]!,
                Enum.Parse<FeatureTransform>((string)n["transform"]!))));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or NullReferenceException)
        {
            throw new CheckpointException($"malformed feature schema: {e.Message}");
        }
    }

    /// <summary>Parses <see cref="ToJson"/>'s text (ONNX metadata); null or empty text is <see cref="Empty"/>.</summary>
    public static FeatureSchema Parse(string? json) => string.IsNullOrEmpty(json) ? Empty : FromJson(JsonNode.Parse(json));

    public FeatureField? Find(string name) => Features.FirstOrDefault(f => f.Name == name);

    public bool Equals(FeatureSchema? other) => other is not null && Features.SequenceEqual(other.Features);

    public override bool Equals(object? obj) => Equals(obj as FeatureSchema);

    public override int GetHashCode() => Features.Aggregate(0, (h, f) => HashCode.Combine(h, f));

    public override string ToString() => IsEmpty ? "no configured features" : string.Join(", ", Features);
}
