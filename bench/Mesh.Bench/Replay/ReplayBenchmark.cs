using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Bench.Load;
using Mesh.Contracts;
using Mesh.World;

namespace Mesh.Bench.Replay;

/// <summary>
/// Replays a log through the standalone host's HTTP API in event-time order (progressive validation: each impression
/// is ranked before its label is sent) and scores the mesh against three online baselines on the same order: the
/// running base rate, a per-item click rate with a Beta prior, and FTRL-Proximal logistic regression with hashed ids
/// and crosses. Prints NE, AUC and calibration over the whole stream and its last 20%, writes an SVG of rolling NE,
/// and ends with BENCH lines.
/// </summary>
public static class ReplayBenchmark
{
    /// <summary>Rows of the generated log when no <c>--log</c> and no <c>--limit</c> are given.</summary>
    // 90,000 impressions leave about 430 clicks in the last 20%: an AUC standard error near 0.012 there, against 0.02
    // with 30,000 (149 clicks), too coarse for the 0.02 AUC comparison against the baselines the replay is for.
    public const int DefaultSyntheticImpressions = 90_000;

    /// <summary>Share of the stream the "last" figures cover.</summary>
    public const double LastShare = 0.2;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args)
    {
        var (options, error) = ReplayOptions.Parse(args);
        if (options is null)
        {
            await Console.Error.WriteLineAsync($"error: {error}\n\n{ReplayOptions.Help}");
            return 2;
        }

        if (await StandaloneHost.ResolvePathAsync(options.HostPath) is not { } hostPath)
        {
            return 2;
        }

        var output = Console.Out;
        var outDirectory = Path.GetFullPath(options.OutDirectory ?? DefaultOutDirectory());
        Directory.CreateDirectory(outDirectory);
        BenchOutput.WriteMachine(output, "replay", TimeProvider.System);

        string logPath, mappingPath;
        if (options.LogPath is null)
        {
            (logPath, mappingPath) = WriteSyntheticLog(outDirectory, options.Seed, options.Limit ?? DefaultSyntheticImpressions);
            output.WriteLine($"log       generated: the synthetic world's realistic mode (RealisticWorld, seed {options.Seed}), {options.Limit ?? DefaultSyntheticImpressions} impressions");
        }
        else
        {
            (logPath, mappingPath) = (options.LogPath, options.MappingPath!);
        }

        LogMapping mapping;
        LogReadResult read;
        try
        {
            mapping = LogMapping.Load(mappingPath);
            read = LogReader.Read(logPath, mapping, options.Limit);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }

        output.WriteLine($"log       {logPath}");
        output.WriteLine($"mapping   {mappingPath}");
        output.WriteLine($"read      {read.Impressions.Count} impressions, {read.Impressions.Count(i => i.Click)} clicks; {read.SkippedRows} rows skipped" +
            (mapping.Items is null ? "" : $"; {read.ItemsMissingFromTable} impressions of items missing from the item table"));
        foreach (var problem in read.FirstProblems)
        {
            output.WriteLine($"  skipped: {problem}");
        }

        if (read.Impressions.Count == 0)
        {
            await Console.Error.WriteLineAsync("error: no impression to replay.");
            return 1;
        }

        var requests = ReplayStream.Build(read.Impressions);
        var settings = HostFeatureSettings(mapping).Concat(options.HostSettings).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stream    {requests.Count} requests from {requests[0].Time:yyyy-MM-dd HH:mm:ss} to {requests[^1].Time:yyyy-MM-dd HH:mm:ss} UTC (event time); {read.Impressions.Select(i => i.UserId).Distinct().Count()} users, {read.Impressions.Select(i => i.ItemId).Distinct().Count()} items"));
        var keepUp = options.GateSettings();
        output.WriteLine($"replay    speed {(options.Speed is { } s ? $"{s} impressions/s" : "as fast as the mesh answers")}, negatives {options.Negatives.ToString().ToLowerInvariant()}, one request at a time");
        output.WriteLine(keepUp is null
            ? "keep-up   off (--keep-up 0): the replay may run ahead of the trainer, and the result depends on replay speed"
            : string.Create(CultureInfo.InvariantCulture,
                $"keep-up   at most {keepUp.Bound} impressions ahead of the trainer's trained + untrained + shed examples (/v1/stats){(options.Negatives == NegativeFeedback.Window ? WindowNote(keepUp.LabelWindow) : "")}"));

        StandaloneHost? host = null;
        using var stop = new HostInterrupt(() => host?.Kill());
        try
        {
            host = StandaloneHost.Start(hostPath, settings: settings);
            output.WriteLine($"host      dotnet {Path.GetRelativePath(Environment.CurrentDirectory, hostPath)} {string.Join(' ', settings)} (pid {host.ProcessId}) on {host.BaseAddress}; driver off, memory only");
            output.WriteLine();
            using var client = LoadRunner.CreateClient(host.BaseAddress, concurrency: 16);
            await host.WaitHealthyAsync(client, StartTimeout, stop.Token);

            var baselines = CreateBaselines(mapping, options.Seed);
            var runner = new ReplayRunner(client, TimeProvider.System);
            var total = read.Impressions.Count;
            var reported = 0;
            var progress = new Progress<int>(done =>
            {
                if (done * 10L / total > reported)
                {
                    reported = (int)(done * 10L / total);
                    Console.Error.WriteLine($"replay: {done}/{total} impressions");
                }
            });
            var result = await runner.RunAsync(requests, baselines, new ReplaySettings(options.Speed, options.Negatives, keepUp, options.UserEvents), progress, stop.Token);
            var stats = await client.GetFromJsonAsync<JsonElement>("v1/stats", stop.Token);

            var summary = Summarize(result);
            WriteTable(output, result, summary);
            WriteStats(output, stats);
            var plot = Path.Combine(outDirectory, "replay-rolling-ne.svg");
            await File.WriteAllTextAsync(plot, RenderPlot(result, options.Window, Path.GetFileName(logPath)), stop.Token);
            output.WriteLine($"plot      {plot}");
            if (host.OutputLines > 0)
            {
                host.WriteTail(output);
            }

            output.WriteLine();
            WriteFigures(output, result, summary);
            return result.RankErrors == 0 && result.MissingScores == 0 ? 0 : 1;
        }
        catch (OperationCanceledException) when (stop.IsInterrupted)
        {
            await Console.Error.WriteLineAsync("interrupted; no figures.");
            return 130;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException or JsonException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            host?.WriteTail(Console.Error);
            return 1;
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
    }

    private static string WindowNote(TimeSpan window) =>
        string.Create(CultureInfo.InvariantCulture, $", counting those whose label window ({window.TotalSeconds:0.###} s of event time) has closed");

    /// <summary>The baselines in table order: base rate, item rate, online LR (seeded hashing, the mapping's transforms).</summary>
    public static IReadOnlyList<IOnlinePredictor> CreateBaselines(LogMapping mapping, int seed)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        var transforms = mapping.ContextFeatures.Concat(mapping.CandidateFeatures).ToDictionary(f => f.Name, f => f.Transform, StringComparer.Ordinal);
        return [new BaseRatePredictor(), new ItemRatePredictor(), new FtrlLogisticPredictor(transforms, seed)];
    }

    /// <summary>
    /// The host's feature space for the mapping's features, as command-line settings (<c>FeatureSpace:Features:i:*</c>):
    /// categorical ones with their buckets (default 1,024) and most values kept (default 1, or 4 for a list with a
    /// separator), numeric ones with their transform.
    /// </summary>
    public static IReadOnlyList<string> HostFeatureSettings(LogMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        var settings = new List<string>();
        var features = mapping.ContextFeatures.Select(f => (Feature: f, Side: "Context")).Concat(mapping.CandidateFeatures.Select(f => (Feature: f, Side: "Candidate")));
        var i = 0;
        foreach (var (f, side) in features)
        {
            var prefix = string.Create(CultureInfo.InvariantCulture, $"--FeatureSpace:Features:{i++}:");
            settings.Add($"{prefix}Name={f.Name}");
            settings.Add($"{prefix}Side={side}");
            settings.Add($"{prefix}Kind={f.Kind}");
            if (f.Kind == FeatureKind.Categorical)
            {
                settings.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}Buckets={f.Buckets ?? 1024}"));
                settings.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}MaxValues={f.MaxValues ?? (f.Separator is null ? 1 : 4)}"));
            }
            else
            {
                settings.Add($"{prefix}Transform={f.Transform}");
            }
        }

        return settings;
    }

    /// <summary>The mapping of the generated log's JSON lines (<see cref="RealisticWorld.Fields"/>).</summary>
    public static LogMapping RealisticMapping() => new()
    {
        User = [RealisticWorld.Fields.User],
        Item = RealisticWorld.Fields.Item,
        Time = RealisticWorld.Fields.Time,
        TimeFormat = "iso",
        Label = RealisticWorld.Fields.Click,
        Request = RealisticWorld.Fields.Request,
        Category = RealisticWorld.Fields.Category,
        Truth = RealisticWorld.Fields.Probability,
        ContextFeatures =
        [
            new FeatureColumn { Name = RealisticWorld.Fields.Segment, Buckets = 64 },
            new FeatureColumn { Name = RealisticWorld.Fields.Age, Buckets = 16 },
            new FeatureColumn { Name = RealisticWorld.Fields.Region, Buckets = 64 },
        ],
        CandidateFeatures =
        [
            new FeatureColumn { Name = RealisticWorld.Fields.Tags, Buckets = 256, MaxValues = 3 },
            new FeatureColumn { Name = RealisticWorld.Fields.Price, Kind = FeatureKind.Numeric, Transform = FeatureTransform.Log1p },
            new FeatureColumn { Name = RealisticWorld.Fields.Position, Buckets = 16 },
        ],
    };

    /// <summary>Writes the realistic world's log and its mapping into <paramref name="directory"/>; returns their paths.</summary>
    public static (string Log, string Mapping) WriteSyntheticLog(string directory, int seed, int impressions)
    {
        var log = Path.Combine(directory, "synthetic-realistic.jsonl");
        var mapping = Path.Combine(directory, "synthetic-realistic.mapping.json");
        using (var stream = File.Create(log))
        {
            new RealisticWorld(new RealisticWorldOptions { Seed = seed, Impressions = impressions }).WriteJsonLines(stream);
        }

        File.WriteAllText(mapping, JsonSerializer.Serialize(RealisticMapping(), ReplayJson.Options) + "\n");
        return (log, mapping);
    }

    /// <summary>Per model: the figures over the impressions the mesh scored, over all of them and over the last 20%.</summary>
    public static IReadOnlyList<(string Model, RangeMetrics All, RangeMetrics Last)> Summarize(ReplayResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        // Every model is scored on the same impressions: those the mesh gave a score for.
        var mesh = result.Predictions[ReplayRunner.Mesh];
        var kept = Enumerable.Range(0, mesh.Length).Where(i => !float.IsNaN(mesh[i])).ToArray();
        var labels = kept.Select(i => result.Labels[i]).ToArray();
        var lastStart = kept.Length - (int)Math.Round(kept.Length * LastShare);
        return [.. result.Predictions.Select(m =>
        {
            var p = kept.Select(i => m.Value[i]).ToArray();
            return (m.Key, ReplayMetrics.Of(p, labels), ReplayMetrics.Of(p.AsSpan(lastStart), labels.AsSpan(lastStart)));
        })];
    }

    private static void WriteTable(TextWriter output, ReplayResult result, IReadOnlyList<(string Model, RangeMetrics All, RangeMetrics Last)> summary)
    {
        output.WriteLine($"{"model",-12}{"NE",8}{"AUC",8}{"calib",8}{"count",9}{"clicks",8}   |{"NE last",9}{"AUC last",10}{"calib last",12}{"count",9}{"clicks",8}");
        foreach (var (model, all, last) in summary)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{model,-12}{all.Ne,8:F4}{all.Auc,8:F4}{all.Calibration,8:F3}{all.Count,9}{all.Clicks,8}   |{last.Ne,9:F4}{last.Auc,10:F4}{last.Calibration,12:F3}{last.Count,9}{last.Clicks,8}"));
        }

        output.WriteLine($"NE: mean log loss over the range / entropy of the range's own click rate (1 = always predicting that rate; lower is better).");
        output.WriteLine($"last: the last {LastShare:P0} of the stream. Every model is scored on the impressions the mesh scored; each predicted before it learnt the label.");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Labels.Length} impressions in {result.Requests} requests ({result.RankCalls} rank calls) in {result.Elapsed.TotalSeconds:F1} s: {result.Labels.Length / result.Elapsed.TotalSeconds:F1} impressions/s " +
            $"(wall time, keep-up waits included); model versions served v{result.ModelVersions.Min}..v{result.ModelVersions.Max}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"keep-up waits {result.KeepUpWait.TotalSeconds:F1} s in total ({result.KeepUpWaits} times held back, {result.StatsReads} reads of /v1/stats)"));
        output.WriteLine($"errors    rank {result.RankErrors}, impressions without a mesh score {result.MissingScores} (left out of every row), feedback {result.FeedbackErrors} of {result.FeedbackPosts} posts, " +
            $"user events {result.EventErrors} of {result.EventPosts} posts");
        foreach (var e in result.FirstErrors)
        {
            output.WriteLine($"  error: {e}");
        }
    }

    /// <summary>What <c>/v1/stats</c> says at the end: the served version, the trainer's, and any lag figure the host reports.</summary>
    private static void WriteStats(TextWriter output, JsonElement stats)
    {
        static string Get(JsonElement stats, params ReadOnlySpan<string> path) => StatsJson.At(stats, path)?.ToString() ?? "-";

        output.WriteLine($"/v1/stats at the end: modelVersion {Get(stats, "modelVersion")}, ranker.modelVersion {Get(stats, "ranker", "modelVersion")}, " +
            $"trainer.publishedVersion {Get(stats, "trainer", "publishedVersion")}, trainer.trainedExamples {Get(stats, "trainer", "trainedExamples")}, " +
            $"labelledImpressions {Get(stats, "labelledImpressions")}, servedNe {Get(stats, "servedNe")}, trainer.pendingLabels {Get(stats, "trainer", "pendingLabels")}");
        var lags = new List<string>();
        FindLags(stats, "", lags);
        output.WriteLine(lags.Count == 0 ? "lag       none reported by this host" : $"lag       {string.Join(", ", lags)}");
    }

    private static void FindLags(JsonElement e, string path, List<string> found)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var p in e.EnumerateObject())
        {
            var name = path.Length == 0 ? p.Name : $"{path}.{p.Name}";
            if (p.Name.Contains("lag", StringComparison.OrdinalIgnoreCase))
            {
                found.Add($"{name} {p.Value.GetRawText()}");
            }
            else
            {
                FindLags(p.Value, name, found);
            }
        }
    }

    private static string RenderPlot(ReplayResult result, double windowShare, string logName)
    {
        var n = result.Labels.Length;
        var window = Math.Max(1, (int)(n * windowShare));
        var series = result.Predictions.Select(m =>
        {
            // Impressions without a mesh score are left out of the mesh's line only (their window has fewer examples).
            var kept = Enumerable.Range(0, n).Where(i => !float.IsNaN(m.Value[i])).ToArray();
            var points = ReplayMetrics.Rolling(kept.Select(i => m.Value[i]).ToArray(), kept.Select(i => result.Labels[i]).ToArray(), Math.Min(window, kept.Length), 200);
            return (m.Key, (IReadOnlyList<(int, double)>)[.. points.Select(p => (p.End == 0 ? 0 : kept[p.End - 1] + 1, p.Ne))]);
        }).ToList();
        return SvgPlot.Render($"Replay of {logName}: rolling NE, window {window:N0} impressions", series, n);
    }

    private static void WriteFigures(TextWriter output, ReplayResult result, IReadOnlyList<(string Model, RangeMetrics All, RangeMetrics Last)> summary)
    {
        var mesh = summary.Single(s => s.Model == ReplayRunner.Mesh);
        var lr = summary.Single(s => s.Model == "online LR");
        BenchOutput.WriteFigure(output, "replay_ne_last20", mesh.Last.Ne, "ne");
        BenchOutput.WriteFigure(output, "replay_ne_last20_vs_lr", mesh.Last.Ne / lr.Last.Ne, "ratio");
        BenchOutput.WriteFigure(output, "replay_auc_vs_lr", mesh.Last.Auc - lr.Last.Auc, "auc_diff");
        BenchOutput.WriteFigure(output, "replay_impressions_per_s", result.Labels.Length / result.Elapsed.TotalSeconds, "impressions/s");
        BenchOutput.WriteFigure(output, "replay_keepup_wait_s", result.KeepUpWait.TotalSeconds, "s");
        BenchOutput.WriteFigure(output, "replay_auc_last20", mesh.Last.Auc, "auc");
        BenchOutput.WriteFigure(output, "replay_calibration_last20", mesh.Last.Calibration, "ratio");
        BenchOutput.WriteFigure(output, "replay_ne", mesh.All.Ne, "ne");
        BenchOutput.WriteFigure(output, "replay_auc", mesh.All.Auc, "auc");
        BenchOutput.WriteFigure(output, "replay_calibration", mesh.All.Calibration, "ratio");
        BenchOutput.WriteFigure(output, "replay_ne_vs_lr", mesh.All.Ne / lr.All.Ne, "ratio");
        foreach (var (model, all, last) in summary.Where(s => s.Model != ReplayRunner.Mesh))
        {
            var key = model.Replace("online ", "", StringComparison.Ordinal).Replace(' ', '_').ToLowerInvariant();
            BenchOutput.WriteFigure(output, $"replay_{key}_ne", all.Ne, "ne");
            BenchOutput.WriteFigure(output, $"replay_{key}_ne_last20", last.Ne, "ne");
            BenchOutput.WriteFigure(output, $"replay_{key}_auc_last20", last.Auc, "auc");
        }

        BenchOutput.WriteFigure(output, "replay_impressions", result.Labels.Length, "count");
        BenchOutput.WriteFigure(output, "replay_clicks", (long)result.Labels.Sum(), "count");
        BenchOutput.WriteFigure(output, "replay_rank_errors", result.RankErrors, "count");
        BenchOutput.WriteFigure(output, "replay_feedback_errors", result.FeedbackErrors, "count");
        BenchOutput.WriteFigure(output, "replay_event_errors", result.EventErrors, "count");
    }

    /// <summary>artifacts/replay under the repository root (ignored by git), or under the temp folder outside a clone.</summary>
    private static string DefaultOutDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
            {
                return Path.Combine(dir.FullName, "artifacts", "replay");
            }
        }

        return Path.Combine(Path.GetTempPath(), "mesh-replay");
    }
}
