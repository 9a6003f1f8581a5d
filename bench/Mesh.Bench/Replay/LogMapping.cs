using System.Text.Json;
using System.Text.Json.Serialization;
using Mesh.Contracts;

namespace Mesh.Bench.Replay;

/// <summary>
/// How the columns of a log (CSV with a header, or JSON lines) become impressions: who, what, when, the label, and the
/// features. Read from a JSON file (<c>--mapping</c>); property names are camelCase. Columns are looked up in the
/// log's row first, then in the joined <see cref="Items"/> row.
/// </summary>
public sealed record LogMapping
{
    /// <summary>The user: one column, or several whose values are joined with <c>|</c> into one key (a log without user ids). Required.</summary>
    [JsonConverter(typeof(ColumnListConverter))]
    public IReadOnlyList<string> User { get; init; } = [];

    /// <summary>The item (the candidate's <c>adId</c>). Required.</summary>
    public string Item { get; init; } = "";

    /// <summary>The event time. Required.</summary>
    public string Time { get; init; } = "";

    /// <summary><c>iso</c> (ISO 8601; no offset means UTC), <c>unix-s</c>, <c>unix-ms</c> or <c>auto</c> (a number below 1e11 is seconds, else milliseconds; text is ISO 8601). Default auto.</summary>
    public string TimeFormat { get; init; } = "auto";

    /// <summary>The click label: 1/0, true/false; any other positive number counts as a click. Required.</summary>
    public string Label { get; init; } = "";

    /// <summary>Rows sharing this column's value form one rank request with several candidates; null: one request per row.</summary>
    public string? Request { get; init; }

    /// <summary>The candidate's category; null: every candidate's category is <c>none</c>.</summary>
    public string? Category { get; init; }

    /// <summary>A column with a known true click probability (a synthetic log); null: none. Scored as a row of the table.</summary>
    public string? Truth { get; init; }

    /// <summary>Request- or user-side features: <c>context.features</c> of the rank request.</summary>
    public IReadOnlyList<FeatureColumn> ContextFeatures { get; init; } = [];

    /// <summary>Item- or impression-side features: <c>candidates[].features</c>.</summary>
    public IReadOnlyList<FeatureColumn> CandidateFeatures { get; init; } = [];

    /// <summary>A table of item features joined on the item; null: none.</summary>
    public ItemTable? Items { get; init; }

    /// <summary>Reads and checks a mapping file.</summary>
    /// <exception cref="InvalidDataException">A required field is missing or a value is unknown; the message names it.</exception>
    public static LogMapping Load(string path)
    {
        LogMapping? mapping;
        try
        {
            mapping = JsonSerializer.Deserialize<LogMapping>(File.ReadAllBytes(path), ReplayJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }

        return (mapping ?? throw new InvalidDataException($"{path}: null mapping")).Validate(path);
    }

    /// <summary>This mapping, or an <see cref="InvalidDataException"/> naming the first wrong field.</summary>
    public LogMapping Validate(string source)
    {
        static void Require(bool ok, string source, string message)
        {
            if (!ok)
            {
                throw new InvalidDataException($"{source}: {message}");
            }
        }

        Require(User.Count > 0 && User.All(c => !string.IsNullOrWhiteSpace(c)), source, "'user' needs a column or a list of columns");
        Require(!string.IsNullOrWhiteSpace(Item), source, "'item' needs a column");
        Require(!string.IsNullOrWhiteSpace(Time), source, "'time' needs a column");
        Require(!string.IsNullOrWhiteSpace(Label), source, "'label' needs a column");
        Require(TimeFormat is "auto" or "iso" or "unix-s" or "unix-ms", source, $"'timeFormat' must be auto, iso, unix-s or unix-ms; got '{TimeFormat}'");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (feature, side) in ContextFeatures.Select(f => (f, "contextFeatures")).Concat(CandidateFeatures.Select(f => (f, "candidateFeatures"))))
        {
            Require(!string.IsNullOrWhiteSpace(feature.Name), source, $"a feature of '{side}' has no 'name'");
            Require(names.Add(feature.Name), source, $"feature '{feature.Name}' is named twice");
            Require(feature.Kind is FeatureKind.Categorical or FeatureKind.Numeric, source, $"feature '{feature.Name}': unknown kind");
            Require(feature.Kind == FeatureKind.Numeric || feature.Transform == FeatureTransform.None, source, $"feature '{feature.Name}': a transform applies to numeric features only");
            Require(feature.Buckets is null or >= 1, source, $"feature '{feature.Name}': 'buckets' must be at least 1");
            Require(feature.MaxValues is null or >= 1, source, $"feature '{feature.Name}': 'maxValues' must be at least 1");
        }

        Require(Items is null || (!string.IsNullOrWhiteSpace(Items.File) && !string.IsNullOrWhiteSpace(Items.Key)), source, "'items' needs 'file' and 'key'");
        return this;
    }
}

/// <summary>One feature: its configured name in the mesh, the column it comes from, and how it is read.</summary>
public sealed record FeatureColumn
{
    /// <summary>The feature's name in <c>features</c> and in the mesh's feature space. Required.</summary>
    public string Name { get; init; } = "";

    /// <summary>The column; null: the column named <see cref="Name"/>.</summary>
    public string? Column { get; init; }

    public FeatureKind Kind { get; init; } = FeatureKind.Categorical;

    /// <summary>Numeric only: applied by the mesh (the replay sends the raw value) and by the logistic-regression baseline. Default none.</summary>
    public FeatureTransform Transform { get; init; } = FeatureTransform.None;

    /// <summary>Categorical only: in a CSV cell, the separator of a list of values (<c>a|b|c</c>); null: one value. A JSON array is always a list.</summary>
    public string? Separator { get; init; }

    /// <summary>Hash buckets in the mesh's feature space; null: the replay's default, 1,024 for a categorical feature.</summary>
    public int? Buckets { get; init; }

    /// <summary>Most values kept of a list in the mesh's feature space; null: 1 (or 4 with a <see cref="Separator"/>).</summary>
    public int? MaxValues { get; init; }

    public string SourceColumn => Column ?? Name;
}

/// <summary>A CSV or JSON-lines table of items, one row per item.</summary>
public sealed record ItemTable
{
    /// <summary>Path; a relative one is taken from the log's folder, and <c>{name}</c> is the log's file name without extension (<c>{name}-items.csv</c>).</summary>
    public string File { get; init; } = "";

    /// <summary>The column holding the item id, matched against the log's item column. Required.</summary>
    public string Key { get; init; } = "";
}

/// <summary>The JSON options of mapping files: camelCase, case-insensitive, comments and trailing commas allowed.</summary>
internal static class ReplayJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            // A misspelt field is an error, not a feature silently left out.
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}

/// <summary>A column list written as one string or as an array of strings.</summary>
internal sealed class ColumnListConverter : JsonConverter<IReadOnlyList<string>>
{
    public override IReadOnlyList<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.String => [reader.GetString()!],
            JsonTokenType.StartArray => JsonSerializer.Deserialize<string[]>(ref reader, options) ?? [],
            _ => throw new JsonException("expected a column name or an array of column names"),
        };

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options)
    {
        if (value.Count == 1)
        {
            writer.WriteStringValue(value[0]);
        }
        else
        {
            JsonSerializer.Serialize(writer, value.ToArray(), options);
        }
    }
}
