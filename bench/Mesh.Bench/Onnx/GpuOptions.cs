using Mesh.Bench.Models;

namespace Mesh.Bench.Onnx;

/// <summary>Where the <c>gpu</c> benchmark runs the networks: ONNX Runtime's CUDA provider, or its CPU provider as a dry run.</summary>
public enum GpuProvider
{
    Cuda,
    Cpu,
}

/// <summary>Settings of the <c>gpu</c> benchmark, from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record GpuOptions
{
    public const string Help = """
        gpu options (bench/run.sh gpu: a build with -p:OnnxRuntimeGpu=true; needs an NVIDIA GPU and CUDA 13):
          --models <list>       small, large, interformer, lr, comma-separated (default small,large)
          --batch-sizes <list>  candidates per batch, up to 512 or a multiple of 512 (requests of 512), at most 65536
                                (default 512,4096,16384)
          --repetitions <n>     timed batches per figure on the GPU (default 200, 10 to 10000); p50 and p99 of them
          --warmup <n>          untimed batches first (default 20, 1 to 1000)
          --device <n>          CUDA device id (default 0)
          --tf32 <on|off>       let cuBLAS and cuDNN use TF32 tensor cores for float32 products (default off: the
                                outputs are compared with the CPU provider's at 1e-3)
          --threads <n>         intra-op threads of the CPU provider, the baseline (default: all cores)
          --provider <name>     cuda (default), or cpu: the same steps on the CPU provider, to check the command
                                where there is no GPU
          --seed <n>            seed of the world the inputs come from and of the weights (default 1)
        """;

    /// <summary>The largest |CUDA − CPU| logit or click probability that passes.</summary>
    public const double Tolerance = 1e-3;

    /// <summary>Candidates per request in a batch of more than this many.</summary>
    public const int RequestCandidates = 512;

    public IReadOnlyList<BenchModel> Models { get; init; } = [BenchModels.Small, BenchModels.Large];

    public IReadOnlyList<int> BatchSizes { get; init; } = [512, 4096, 16384];

    public int Repetitions { get; init; } = 200;

    public int Warmup { get; init; } = 20;

    public int Device { get; init; }

    public bool Tf32 { get; init; }

    public int Threads { get; init; } = Environment.ProcessorCount;

    public GpuProvider Provider { get; init; } = GpuProvider.Cuda;

    public int Seed { get; init; } = 1;

    /// <summary>The requests and candidates per request of a batch of <paramref name="size"/> candidates: one request up to 512, else requests of 512.</summary>
    public static (int Requests, int Candidates) Shape(int size) =>
        size <= RequestCandidates ? (1, size) : (size / RequestCandidates, RequestCandidates);

    /// <summary>Parses <paramref name="args"/>; returns null and an error message when they are wrong.</summary>
    public static (GpuOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new GpuOptions();
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "models" when BenchModels.Parse(value) is { } models:
                    options = options with { Models = models };
                    break;
                case "batch-sizes" when BenchArguments.TryParseIntList(value, 1, 65_536, out var sizes)
                    && sizes.All(s => s <= RequestCandidates || s % RequestCandidates == 0):
                    options = options with { BatchSizes = sizes };
                    break;
                case "repetitions" when BenchArguments.TryParseInt(value, 10, 10_000, out var n):
                    options = options with { Repetitions = n };
                    break;
                case "warmup" when BenchArguments.TryParseInt(value, 1, 1000, out var n):
                    options = options with { Warmup = n };
                    break;
                case "device" when BenchArguments.TryParseInt(value, 0, 63, out var n):
                    options = options with { Device = n };
                    break;
                case "tf32" when BenchArguments.TryParseSwitch(value, out var on):
                    options = options with { Tf32 = on };
                    break;
                case "threads" when BenchArguments.TryParseInt(value, 1, 256, out var n):
                    options = options with { Threads = n };
                    break;
                case "provider" when value is "cuda" or "cpu":
                    options = options with { Provider = value == "cuda" ? GpuProvider.Cuda : GpuProvider.Cpu };
                    break;
                case "seed" when BenchArguments.TryParseInt(value, 0, int.MaxValue, out var n):
                    options = options with { Seed = n };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        return (options, null);
    }
}
