using Mesh.Contracts;

namespace Mesh.Bench.Load;

/// <summary>Settings of the load benchmark, from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record LoadOptions
{
    public const string Help = """
        load options:
          --duration <s>        measured seconds per endpoint and candidate count (default 10, 1 to 120)
          --warmup <s>          unmeasured seconds before each measurement (default 3, 0 to 60)
          --concurrency <n>     concurrent connections (default 8, 1 to 256)
          --candidates <list>   candidate counts, comma-separated (default 100,500; each 1 to 1000)
          --seed <n>            seed of the request pool (default 42)
          --host <path>         Mesh.Standalone.dll to start (default: the Release build under services/standalone)
        """;

    /// <summary>Measured time per endpoint and candidate count. Default 10 s.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Unmeasured time before each measurement: JIT tiering, connection setup, the ranker's first model. Default 3 s.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Concurrent keep-alive connections, each with one request in flight (closed loop). Default 8.</summary>
    public int Concurrency { get; init; } = 8;

    /// <summary>Candidates per request, one measurement each. Default 100 and 500.</summary>
    public IReadOnlyList<int> Candidates { get; init; } = [100, 500];

    public int Seed { get; init; } = 42;

    /// <summary>Path of Mesh.Standalone.dll; null: found from the repository root.</summary>
    public string? HostPath { get; init; }

    /// <summary>Parses <paramref name="args"/>; returns null and an error message when they are wrong.</summary>
    public static (LoadOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new LoadOptions();
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
                case "concurrency" when BenchArguments.TryParseInt(value, 1, 256, out var concurrency):
                    options = options with { Concurrency = concurrency };
                    break;
                case "candidates" when BenchArguments.TryParseIntList(value, 1, RankRequest.MaxCandidates, out var candidates):
                    options = options with { Candidates = candidates };
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
}
