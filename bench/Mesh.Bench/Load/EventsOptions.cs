
namespace Mesh.Bench.Load;

/// <summary>Settings of the events benchmark, from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record EventsOptions
{
    public const string Help = """
        events options:
          --duration <s>        measured seconds per host and round (default 10, 1 to 120)
          --rounds <n>          rounds; each measures every host once, the order reversed every other round (default 2, 1 to 10)
          --warmup <s>          unmeasured seconds before each measurement (default 3, 0 to 60)
          --concurrency <n>     concurrent connections (default 16, 1 to 256)
          --modes <list>        hosts to measure, in order, comma-separated (default memory,durable):
                                  memory          no data folder: nothing persists (the baseline)
                                  durable         a fresh data folder: state and events persist
                                  durable-batch1  the same with --EmbeddedRuntime:WriteBatchSize=1 (one commit per write)
          --seed <n>            seed of the event pool (default 42)
          --host <path>         Mesh.Standalone.dll to start (default: the Release build under services/standalone)
        """;

    public static readonly IReadOnlyList<string> KnownModes = ["memory", "durable", "durable-batch1"];

    /// <summary>Measured time per host and round. Default 10 s.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Rounds of measurements; every other one reverses the order of the hosts (ABBA). Default 2.</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>Unmeasured time before each measurement: JIT tiering, connection setup. Default 3 s.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Concurrent keep-alive connections, each with one request in flight (closed loop). Default 16.</summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>The hosts measured, in order; each is its own process, all started at once. Default memory, then durable.</summary>
    public IReadOnlyList<string> Modes { get; init; } = ["memory", "durable"];

    public int Seed { get; init; } = 42;

    /// <summary>Path of Mesh.Standalone.dll; null: found from the repository root.</summary>
    public string? HostPath { get; init; }

    /// <summary>Parses <paramref name="args"/>; returns null and an error message when they are wrong.</summary>
    public static (EventsOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new EventsOptions();
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "duration" when BenchArguments.TryParseSeconds(value, 1, 120, out var seconds):
                    options = options with { Duration = seconds };
                    break;
                case "warmup" when BenchArguments.TryParseSeconds(value, 0, 60, out var seconds):
                    options = options with { Warmup = seconds };
                    break;
                case "rounds" when BenchArguments.TryParseInt(value, 1, 10, out var rounds):
                    options = options with { Rounds = rounds };
                    break;
                case "concurrency" when BenchArguments.TryParseInt(value, 1, 256, out var concurrency):
                    options = options with { Concurrency = concurrency };
                    break;
                case "modes" when TryParseModes(value, out var modes):
                    options = options with { Modes = modes };
                    break;
                case "seed" when BenchArguments.TryParseInt(value, 0, int.MaxValue, out var seed):
                    options = options with { Seed = seed };
                    break;
                case "host":
                    options = options with { HostPath = value };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        return (options, null);
    }

    private static bool TryParseModes(string value, out IReadOnlyList<string> modes)
    {
        var list = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
        modes = list;
        return list.Count > 0 && list.All(m => KnownModes.Contains(m, StringComparer.Ordinal));
    }
}
