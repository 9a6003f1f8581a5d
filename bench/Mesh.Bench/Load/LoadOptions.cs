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
          --compare <list>      hosts started after the headline one (training off, batching on), measuring /v1/rank
                                only: training (the trainer on), unbatched (Ranker:MaxBatchCandidates=1),
                                no-telemetry (Telemetry:Enabled=false), or none (default training,unbatched)
          --compare-candidates <list>  candidate counts the compared hosts measure, each one of --candidates
                                (default: the largest of --candidates)
          --settle <s>          longest wait after each measurement for the host to go quiet (default 30, 1 to 300)
          --gemm-repetitions <n>  timed 512³ GEMMs (engine and ONNX Runtime, alternated) for the serving MFU's
                                reference, after the hosts (default 40, 3 to 1000)
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

    /// <summary>
    /// Hosts started after the headline one (<see cref="HostSetup.Serving"/>: training off), each measuring
    /// <c>/v1/rank</c> at every candidate count against the headline host's bare figures. Default training, unbatched.
    /// </summary>
    public IReadOnlyList<HostSetup> Compare { get; init; } = [HostSetup.Training, HostSetup.Unbatched];

    /// <summary>Candidate counts the <see cref="Compare"/> hosts measure; null: the largest of <see cref="Candidates"/>.</summary>
    public IReadOnlyList<int>? CompareCandidates { get; init; }

    /// <summary>The candidate counts the compared hosts measure.</summary>
    public IReadOnlyList<int> ComparedCandidates => CompareCandidates ?? [Candidates.Max()];

    /// <summary>
    /// Longest wait after a measurement for the host to go quiet, so that the work the requests left behind (training
    /// above all) is charged to that phase. Default 30 s.
    /// </summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Timed repetitions of the 512³ GEMM reference (each: one engine GEMM, one ONNX Runtime MatMul). Default 40.</summary>
    public int GemmRepetitions { get; init; } = 40;

    /// <summary>Every host this run starts, the headline first.</summary>
    public IReadOnlyList<HostSetup> Hosts => [HostSetup.Serving, .. Compare];

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
                case "compare" when HostSetup.TryParseList(value, out var compare):
                    options = options with { Compare = compare };
                    break;
                case "compare-candidates" when BenchArguments.TryParseIntList(value, 1, RankRequest.MaxCandidates, out var compared):
                    options = options with { CompareCandidates = compared };
                    break;
                case "settle" when BenchArguments.TryParseSeconds(value, 1, 300, out var seconds):
                    options = options with { Settle = seconds };
                    break;
                case "gemm-repetitions" when BenchArguments.TryParseInt(value, 3, 1000, out var repetitions):
                    options = options with { GemmRepetitions = repetitions };
                    break;
                case "host":
                    options = options with { HostPath = value };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        if (options.CompareCandidates?.Except(options.Candidates).FirstOrDefault() is { } missing and > 0)
        {
            return (null, $"--compare-candidates: {missing} is not one of --candidates ({string.Join(',', options.Candidates)}), so it has no bare baseline");
        }

        return (options, null);
    }
}
