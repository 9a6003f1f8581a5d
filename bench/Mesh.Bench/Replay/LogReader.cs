using System.Globalization;
using System.Text.Json;
using Mesh.Contracts;
using nietras.SeparatedValues;

namespace Mesh.Bench.Replay;

/// <summary>A feature's value as read from the log: a list of categorical values, or a number (after no transform: the mesh applies its own).</summary>
public readonly record struct FeatureValue(IReadOnlyList<string>? Values, double Number)
{
    public bool IsNumeric => Values is null;

    public static FeatureValue Categorical(params IReadOnlyList<string> values) => new(values, 0);

    public static FeatureValue Numeric(double value) => new(null, value);

    /// <summary>The value as the rank request carries it: a number, a string, or an array of strings.</summary>
    public JsonElement ToJson() => IsNumeric
        ? JsonSerializer.SerializeToElement(Number)
        : Values!.Count == 1 ? JsonSerializer.SerializeToElement(Values[0]) : JsonSerializer.SerializeToElement(Values);
}

/// <summary>One impression of a log, as the mapping reads it.</summary>
/// <param name="UserId">The user key (several columns joined with <c>|</c>).</param>
/// <param name="ItemId">The item, the candidate's <c>adId</c>.</param>
/// <param name="Time">Event time.</param>
/// <param name="Click">The label.</param>
/// <param name="Category">The candidate's category (<c>none</c> without one).</param>
/// <param name="Context">Context features by name; absent values are left out.</param>
/// <param name="Candidate">Candidate features by name; absent values are left out.</param>
/// <param name="Line">1-based line of the log it came from (the header is line 1 of a CSV).</param>
/// <param name="RequestKey">The request column's value; null without one.</param>
/// <param name="Truth">The true click probability where the log knows it.</param>
public sealed record LogImpression(
    long Line, string UserId, string ItemId, DateTimeOffset Time, bool Click, string? RequestKey, string Category,
    IReadOnlyDictionary<string, FeatureValue> Context, IReadOnlyDictionary<string, FeatureValue> Candidate, double? Truth);

/// <summary>What <see cref="LogReader.Read"/> found: the impressions in file order, and every row it skipped and why.</summary>
public sealed record LogReadResult(IReadOnlyList<LogImpression> Impressions, long SkippedRows, IReadOnlyList<string> FirstProblems, long ItemsMissingFromTable);

/// <summary>
/// Reads a log (CSV with a header, or JSON lines: one object per line) through a <see cref="LogMapping"/>. A file
/// whose name ends in <c>.jsonl</c>, <c>.ndjson</c> or <c>.json</c> is JSON lines, anything else CSV (separator
/// inferred from the header: comma, semicolon, tab or pipe). A column the mapping names that the header lacks is an
/// error; a row whose time or label cannot be read is skipped and counted, with the first reasons kept.
/// </summary>
public static class LogReader
{
    private const int KeptProblems = 5;

    /// <param name="logPath">The log file.</param>
    /// <param name="mapping">Its columns.</param>
    /// <param name="limit">Most rows read from the log (file order, before sorting); null: all.</param>
    public static LogReadResult Read(string logPath, LogMapping mapping, int? limit = null)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        Dictionary<string, Dictionary<string, Cell>>? items = null;
        if (mapping.Items is { } table)
        {
            var itemPath = ResolveItemTable(logPath, table.File);
            items = new(StringComparer.Ordinal);
            foreach (var (_, row) in ReadRows(itemPath, columns: null, limit: null))
            {
                if (row.TryGetValue(table.Key, out var key) && key.Text() is { Length: > 0 } id)
                {
                    items[id] = row;
                }
            }
        }

        var needed = new HashSet<string>(StringComparer.Ordinal) { mapping.Item, mapping.Time, mapping.Label };
        needed.UnionWith(mapping.User);
        needed.UnionWith(new[] { mapping.Request, mapping.Category, mapping.Truth }.OfType<string>());
        needed.UnionWith(mapping.ContextFeatures.Concat(mapping.CandidateFeatures).Select(f => f.SourceColumn));

        if (!IsJsonLines(logPath))
        {
            // JSON lines have no header (a field may be absent from some lines); a CSV's header must name every column
            // the mapping uses, unless the item table has it.
            var available = new HashSet<string>(CsvHeader(logPath), StringComparer.Ordinal);
            available.UnionWith(items?.Values.FirstOrDefault()?.Keys ?? Enumerable.Empty<string>());
            if (needed.Except(available).FirstOrDefault() is { } missing)
            {
                throw new InvalidDataException($"{logPath}: column '{missing}' of the mapping is in neither the log's header nor the item table");
            }
        }

        var impressions = new List<LogImpression>();
        var problems = new List<string>();
        long skipped = 0, missingItems = 0;
        foreach (var (line, row) in ReadRows(logPath, needed, limit))
        {
            Dictionary<string, Cell>? item = null;
            try
            {
                var itemId = Require(row, null, mapping.Item, line).Text();
                if (items is not null && !items.TryGetValue(itemId, out item))
                {
                    missingItems++;
                }

                impressions.Add(ToImpression(mapping, row, item, itemId, line));
            }
            catch (FormatException e)
            {
                skipped++;
                if (problems.Count < KeptProblems)
                {
                    problems.Add(e.Message);
                }
            }
        }

        return new LogReadResult(impressions, skipped, problems, missingItems);
    }

    /// <summary>The item table's path: <c>{name}</c> replaced by the log's file name without extension, relative to the log's folder.</summary>
    public static string ResolveItemTable(string logPath, string file)
    {
        var name = file.Replace("{name}", Path.GetFileNameWithoutExtension(logPath), StringComparison.Ordinal);
        return Path.IsPathRooted(name) ? name : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(logPath)) ?? ".", name);
    }

    /// <summary>Event time of a cell: see <see cref="LogMapping.TimeFormat"/>.</summary>
    public static DateTimeOffset ParseTime(string text, string format)
    {
        var isNumber = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number);
        return format switch
        {
            "unix-s" when isNumber => FromUnixMs(number * 1000),
            "unix-ms" when isNumber => FromUnixMs(number),
            "auto" when isNumber => FromUnixMs(Math.Abs(number) < 1e11 ? number * 1000 : number),
            "iso" or "auto" when DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) => time.ToUniversalTime(),
            _ => throw new FormatException($"'{text}' is not a time in format {format}"),
        };
    }

    private static DateTimeOffset FromUnixMs(double ms) =>
        double.IsFinite(ms) && Math.Abs(ms) < 253_402_300_799_000 ? DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)(ms * TimeSpan.TicksPerMillisecond))
            : throw new FormatException($"{ms} ms is outside the times DateTimeOffset holds");

    private static LogImpression ToImpression(LogMapping mapping, Dictionary<string, Cell> row, Dictionary<string, Cell>? item, string itemId, long line)
    {
        var user = string.Join('|', mapping.User.Select(c => Require(row, item, c, line).Text()));
        var timeText = Require(row, item, mapping.Time, line).Text();
        DateTimeOffset time;
        try
        {
            time = ParseTime(timeText, mapping.TimeFormat);
        }
        catch (FormatException e)
        {
            throw new FormatException($"line {line}: column '{mapping.Time}': {e.Message}", e);
        }

        var label = Require(row, item, mapping.Label, line).Text().Trim();
        var click = label switch
        {
            "1" or "true" or "True" or "TRUE" => true,
            "0" or "false" or "False" or "FALSE" => false,
            _ when double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) => x > 0,
            _ => throw new FormatException($"line {line}: column '{mapping.Label}': '{label}' is not a click label (0/1, true/false)"),
        };
        var request = mapping.Request is { } r ? Require(row, item, r, line).Text() : null;
        var category = mapping.Category is { } c && Lookup(row, item, c) is { } cell && cell.Text() is { Length: > 0 } cat ? cat : "none";
        double? truth = mapping.Truth is { } t && Lookup(row, item, t) is { } truthCell ? Number(truthCell, t, line) : null;
        return new LogImpression(line, user, itemId, time, click, request, category,
            Features(mapping.ContextFeatures, row, item, line), Features(mapping.CandidateFeatures, row, item, line), truth);
    }

    private static Dictionary<string, FeatureValue> Features(IReadOnlyList<FeatureColumn> features, Dictionary<string, Cell> row, Dictionary<string, Cell>? item, long line)
    {
        var values = new Dictionary<string, FeatureValue>(features.Count, StringComparer.Ordinal);
        foreach (var feature in features)
        {
            if (Lookup(row, item, feature.SourceColumn) is not { IsEmpty: false } cell)
            {
                continue; // absent for this row: the request leaves the feature out
            }

            if (feature.Kind == FeatureKind.Numeric)
            {
                values[feature.Name] = FeatureValue.Numeric(Number(cell, feature.SourceColumn, line));
            }
            else if (cell.Categories(feature.Separator) is { Length: > 0 } list)
            {
                values[feature.Name] = FeatureValue.Categorical(list);
            }
        }

        return values;
    }

    private static double Number(Cell cell, string column, long line) =>
        cell.TryNumber(out var x) && double.IsFinite(x) ? x : throw new FormatException($"line {line}: column '{column}': '{cell.Text()}' is not a number");

    private static Cell? Lookup(Dictionary<string, Cell> row, Dictionary<string, Cell>? item, string column) =>
        row.TryGetValue(column, out var cell) && !cell.IsEmpty ? cell
        : item is not null && item.TryGetValue(column, out var joined) ? joined
        : row.TryGetValue(column, out var empty) ? empty : null;

    private static Cell Require(Dictionary<string, Cell> row, Dictionary<string, Cell>? item, string column, long line) =>
        Lookup(row, item, column) is { IsEmpty: false } cell ? cell : throw new FormatException($"line {line}: column '{column}' is empty or missing");

    /// <summary>Rows as column → cell, with only <paramref name="columns"/> kept (null: all), and the 1-based line of each.</summary>
    private static IEnumerable<(long Line, Dictionary<string, Cell> Row)> ReadRows(string path, HashSet<string>? columns, int? limit) =>
        IsJsonLines(path) ? ReadJsonLines(path, columns, limit) : ReadCsv(path, columns, limit);

    private static bool IsJsonLines(string path) => Path.GetExtension(path).ToLowerInvariant() is ".jsonl" or ".ndjson" or ".json";

    private static IReadOnlyList<string> CsvHeader(string path)
    {
        using var reader = Sep.Reader().FromFile(path);
        return [.. reader.Header.ColNames];
    }

    private static IEnumerable<(long, Dictionary<string, Cell>)> ReadCsv(string path, HashSet<string>? columns, int? limit)
    {
        using var reader = Sep.Reader(o => o with { Unescape = true, DisableColCountCheck = true }).FromFile(path);
        var names = reader.Header.ColNames;
        var kept = new List<(int Index, string Name)>();
        for (var i = 0; i < names.Count; i++)
        {
            if (columns is null || columns.Contains(names[i]))
            {
                kept.Add((i, names[i]));
            }
        }

        var line = 1L;
        var count = 0;
        foreach (var row in reader)
        {
            line++;
            if (limit is { } max && count++ >= max)
            {
                yield break;
            }

            var cells = new Dictionary<string, Cell>(kept.Count, StringComparer.Ordinal);
            foreach (var (index, name) in kept)
            {
                cells[name] = index < row.ColCount ? Cell.OfText(row[index].ToString()) : Cell.OfText("");
            }

            yield return (line, cells);
        }
    }

    private static IEnumerable<(long, Dictionary<string, Cell>)> ReadJsonLines(string path, HashSet<string>? columns, int? limit)
    {
        var line = 0L;
        var count = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            if (limit is { } max && count++ >= max)
            {
                yield break;
            }

            Dictionary<string, Cell>? cells = null;
            try
            {
                using var document = JsonDocument.Parse(text);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    cells = new Dictionary<string, Cell>(StringComparer.Ordinal);
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        if (columns is null || columns.Contains(property.Name))
                        {
                            cells[property.Name] = Cell.OfJson(property.Value.Clone());
                        }
                    }
                }
            }
            catch (JsonException)
            {
                cells = null;
            }

            // A line that is not a JSON object still counts: it becomes a row with no columns, which the caller skips
            // and reports (its required columns are missing).
            yield return (line, cells ?? new Dictionary<string, Cell>(StringComparer.Ordinal));
        }
    }

    /// <summary>One cell: CSV text, or a JSON value.</summary>
    private readonly record struct Cell(string? Raw, JsonElement Json)
    {
        public static Cell OfText(string text) => new(text, default);

        public static Cell OfJson(JsonElement json) => new(null, json);

        public bool IsEmpty => Raw is not null ? Raw.Length == 0 : Json.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

        public string Text() => Raw ?? Json.ValueKind switch
        {
            JsonValueKind.String => Json.GetString()!,
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            _ => Json.GetRawText(),
        };

        public bool TryNumber(out double value)
        {
            if (Raw is null && Json.ValueKind == JsonValueKind.Number)
            {
                return Json.TryGetDouble(out value);
            }

            return double.TryParse(Text(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }

        public string[] Categories(string? separator)
        {
            if (Raw is null && Json.ValueKind == JsonValueKind.Array)
            {
                return [.. Json.EnumerateArray().Select(e => new Cell(null, e).Text()).Where(s => s.Length > 0)];
            }

            var text = Text();
            return separator is { Length: > 0 }
                ? text.Split(separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                : [text];
        }
    }
}
