using System.Text.Json;

namespace Mesh.Bench.Load;

/// <summary>What the load benchmark reads from the standalone host's <c>GET /v1/stats</c>.</summary>
/// <param name="Ranker">The ranker's counters.</param>
/// <param name="Train">The trainer's <c>Trainer:Train</c> setting; null where the reply does not say (an older host).</param>
/// <param name="TrainedExamples">Labelled examples the trainer has trained on.</param>
public readonly record struct HostStats(RankerCounters Ranker, bool? Train, long TrainedExamples)
{
    public static HostStats FromStats(JsonElement stats)
    {
        bool? train = StatsJson.At(stats, "trainer", "train") is { ValueKind: JsonValueKind.True or JsonValueKind.False } on ? on.GetBoolean() : null;
        var trained = StatsJson.At(stats, "trainer", "trainedExamples")?.GetInt64() ?? 0;
        return new(RankerCounters.FromStats(stats), train, trained);
    }
}
