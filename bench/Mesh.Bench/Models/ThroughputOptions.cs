namespace Mesh.Bench.Models;

/// <summary>Settings of the <c>infer</c> and <c>train</c> benchmarks (the same options, different defaults).</summary>
public sealed record ThroughputOptions
{
    public const string InferHelp = """
        infer options:
          --models <list>       small, large, interformer, lr, comma-separated (default small,large,interformer)
          --threads <list>      GEMM threads (default 1,2; capped at the machine's cores)
          --requests <n>        requests per batch (default 1, 1 to 512)
          --candidates <n>      candidates per request (default 512, 1 to 1000; requests x candidates at most 65536)
          --repetitions <n>     timed batches per figure, the median is reported (default 40, 3 to 1000)
          --warmup <n>          untimed batches first, and at least 1 s of them (default 5, 0 to 100)
          --seed <n>            seed of the world the inputs come from and of the weights (default 1)
          --ort <on|off>        also run each network's ONNX export under ONNX Runtime's CPU provider, with ORT's own
                                512³ MatMul as a second GEMM reference (default on)
        """;

    public const string TrainHelp = """
        train options:
          --models <list>       small, large, interformer, lr, comma-separated (default small,large,interformer)
          --threads <list>      GEMM threads, forward and backward (default 1,2; capped at the machine's cores)
          --requests <n>        requests per training step (default 32, 1 to 512)
          --candidates <n>      labelled candidates per request (default 16, 1 to 1000; requests x candidates at most 65536)
          --repetitions <n>     timed steps per figure, the median is reported (default 20, 3 to 1000)
          --warmup <n>          untimed steps first, and at least 1 s of them (default 5, 0 to 100)
          --seed <n>            seed of the world the inputs come from and of the weights (default 1)
        """;

    public IReadOnlyList<BenchModel> Models { get; init; } = BenchModels.Tiers;

    public IReadOnlyList<int> Threads { get; init; } = [1, 2];

    public int Requests { get; init; } = 1;

    public int Candidates { get; init; } = 512;

    public int Repetitions { get; init; } = 40;

    public int Warmup { get; init; } = 5;

    public int Seed { get; init; } = 1;

    /// <summary>Whether <c>infer</c> also runs the networks under ONNX Runtime (CPU provider); never for <c>train</c>.</summary>
    public bool Ort { get; init; }

    /// <summary>The training benchmark's options (which take no <c>--ort</c>).</summary>
    public bool Training { get; init; }

    /// <summary>Rows of one batch: requests × candidates.</summary>
    public int BatchSize => Requests * Candidates;

    /// <summary>The inference defaults: one request of 512 candidates (one ranker call), 40 timed batches, engine and ONNX Runtime.</summary>
    public static ThroughputOptions Infer { get; } = new() { Ort = true };

    /// <summary>The training defaults: 32 requests of 16 labelled candidates (512 examples) per step, 20 timed steps.</summary>
    public static ThroughputOptions Train { get; } = new() { Requests = 32, Candidates = 16, Repetitions = 20, Training = true };

    /// <summary>Parses <paramref name="args"/> over <paramref name="defaults"/>; returns null and an error message when they are wrong.</summary>
    public static (ThroughputOptions? Options, string? Error) Parse(IReadOnlyList<string> args, ThroughputOptions defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = defaults;
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "models" when BenchModels.Parse(value) is { } models:
                    options = options with { Models = models };
                    break;
                case "threads" when BenchArguments.TryParseIntList(value, 1, 256, out var threads):
                    options = options with { Threads = threads };
                    break;
                case "requests" when BenchArguments.TryParseInt(value, 1, 512, out var n):
                    options = options with { Requests = n };
                    break;
                case "candidates" when BenchArguments.TryParseInt(value, 1, 1000, out var n):
                    options = options with { Candidates = n };
                    break;
                case "repetitions" when BenchArguments.TryParseInt(value, 3, 1000, out var n):
                    options = options with { Repetitions = n };
                    break;
                case "warmup" when BenchArguments.TryParseInt(value, 0, 100, out var n):
                    options = options with { Warmup = n };
                    break;
                case "seed" when BenchArguments.TryParseInt(value, 0, int.MaxValue, out var n):
                    options = options with { Seed = n };
                    break;
                case "ort" when !options.Training && BenchArguments.TryParseSwitch(value, out var on):
                    options = options with { Ort = on };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        return options.BatchSize > 65_536
            ? (null, $"a batch of {options.Requests} x {options.Candidates} candidates is over 65536")
            : (options, null);
    }
}
