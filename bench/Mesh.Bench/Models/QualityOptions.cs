using System.Globalization;

namespace Mesh.Bench.Models;

/// <summary>Settings of the quality benchmark, from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record QualityOptions
{
    public const string Help = """
        quality options:
          --impressions <n>     training impressions, 10 served per request (default 1000000, 1000 to 20000000)
          --models <list>       lr, small, large, interformer, comma-separated (default all); small and large are the
                                mesh's tiers as the trainer publishes them: trained together with the user tower
                                through the trainer's step, scored by the published weights (one pass for both)
          --decay <d>           weight-average decay of the published small and large, in [0, 1) (default 0.99, the
                                trainer's default; 0 publishes the raw weights)
          --alone <bool>        also train small and large each by itself with its own user tower, as
                                <key>_alone rows (default false)
          --batch-requests <n>  requests per training step (default 32, 1 to 1024)
          --seed <n>            seed of the world, its traffic and the click draws (default 1)
          --holdout <n>         requests after training, all 50 candidates labelled, for the held-out and early-exit
                                tables (default 2000, 0 to 100000; 0 skips both)
          --exit-keep <n>       k of the early-exit rule: candidates a request keeps (default 10, 1 to 50)
          --thresholds <list>   early-exit thresholds in [0, 1] (default 0,0.25,0.5,0.75,0.9,1)
          --average <decay>     also score the weight average (decay in [0, 1), per step) of every model trained
                                alone beside it, as <key>_avg: progressively and held out (default off)
        """;

    /// <summary>Training impressions; the stream has whole requests, so at least this many. Default 1,000,000.</summary>
    public int Impressions { get; init; } = 1_000_000;

    public IReadOnlyList<BenchModel> Models { get; init; } = BenchModels.All;

    /// <summary>Requests per training step (10 impressions each). Default 32.</summary>
    public int BatchRequests { get; init; } = 32;

    public int Seed { get; init; } = 1;

    /// <summary>Requests after the training stream, every candidate labelled. Default 2,000 (100,000 candidates).</summary>
    public int HoldoutRequests { get; init; } = 2_000;

    /// <summary>The early-exit rule's k. Default 10, what the mesh serves of 50.</summary>
    public int ExitKeep { get; init; } = 10;

    public IReadOnlyList<double> Thresholds { get; init; } = [0, 0.25, 0.5, 0.75, 0.9, 1];

    /// <summary>
    /// Weight-average decay of the mesh's tiers as published (the trainer's <c>WeightAverageDecay</c>, default 0.99);
    /// 0 publishes the raw weights.
    /// </summary>
    public double PublishDecay { get; init; } = 0.99;

    /// <summary>Also train the mesh's tiers each by itself with its own user tower (rows <c>&lt;key&gt;_alone</c>). Default false.</summary>
    public bool Alone { get; init; }

    /// <summary>Decay of the weight average scored beside each model trained alone (<c>Mesh.Learning.Optim.WeightAverage</c>); null: none.</summary>
    public float? AverageDecay { get; init; }

    public static (QualityOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new QualityOptions();
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "impressions" when BenchArguments.TryParseInt(value, 1_000, 20_000_000, out var n):
                    options = options with { Impressions = n };
                    break;
                case "models" when BenchModels.Parse(value) is { } models:
                    options = options with { Models = models };
                    break;
                case "batch-requests" when BenchArguments.TryParseInt(value, 1, 1024, out var n):
                    options = options with { BatchRequests = n };
                    break;
                case "seed" when BenchArguments.TryParseInt(value, 0, int.MaxValue, out var n):
                    options = options with { Seed = n };
                    break;
                case "holdout" when BenchArguments.TryParseInt(value, 0, 100_000, out var n):
                    options = options with { HoldoutRequests = n };
                    break;
                case "exit-keep" when BenchArguments.TryParseInt(value, 1, 50, out var n):
                    options = options with { ExitKeep = n };
                    break;
                case "thresholds" when TryParseThresholds(value, out var thresholds):
                    options = options with { Thresholds = thresholds };
                    break;
                case "average" when float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var decay) && decay is >= 0 and < 1:
                    options = options with { AverageDecay = decay };
                    break;
                case "decay" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var decay) && decay is >= 0 and < 1:
                    options = options with { PublishDecay = decay };
                    break;
                case "alone" when bool.TryParse(value, out var alone):
                    options = options with { Alone = alone };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        return (options, null);
    }

    private static bool TryParseThresholds(string value, out IReadOnlyList<double> result)
    {
        var list = new List<double>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) || t is < 0 or > 1)
            {
                result = [];
                return false;
            }

            list.Add(t);
        }

        result = [.. list.Distinct().Order()];
        return list.Count > 0;
    }
}
