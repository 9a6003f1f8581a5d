using System.Globalization;

namespace Mesh.Bench.Gemm;

/// <summary>One product C (M x N) = A (M x K) · B (K x N): M is the batch, K the input and N the output width of a layer.</summary>
public readonly record struct GemmShape(int M, int N, int K)
{
    /// <summary>"512" for a cube, else "MxNxK"; the middle part of the figure names.</summary>
    public string Name => M == N && N == K ? M.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{M}x{N}x{K}");

    public double Flops => 2.0 * M * N * K;

    public static bool TryParse(string text, out GemmShape shape)
    {
        var parts = text.Split('x');
        var dims = new int[3];
        var ok = parts.Length is 1 or 3;
        for (var i = 0; ok && i < parts.Length; i++)
        {
            ok = int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out dims[i]) && dims[i] is >= 1 and <= 8192;
        }

        shape = !ok ? default : parts.Length == 1 ? new GemmShape(dims[0], dims[0], dims[0]) : new GemmShape(dims[0], dims[1], dims[2]);
        return ok;
    }
}

/// <summary>Settings of the GEMM benchmark, from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record GemmOptions
{
    public const string Help = """
        gemm options:
          --shapes <list>       products MxNxK (M batch rows, K in, N out) or N for a cube, comma-separated
                                (default 512,1024,512x256x256,512x1024x256,512x256x1024)
          --threads <list>      thread counts (default 1,2; capped at the machine's cores)
          --repetitions <n>     timed repetitions per figure, the median is reported (default 15, 3 to 200)
          --warmup <n>          untimed repetitions first (default 3, 0 to 50)
        """;

    public IReadOnlyList<GemmShape> Shapes { get; init; } =
        [new(512, 512, 512), new(1024, 1024, 1024), new(512, 256, 256), new(512, 1024, 256), new(512, 256, 1024)];

    public IReadOnlyList<int> Threads { get; init; } = [1, 2];

    public int Repetitions { get; init; } = 15;

    public int Warmup { get; init; } = 3;

    public static (GemmOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new GemmOptions();
        foreach (var (name, value) in pairs)
        {
            var list = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            switch (name)
            {
                case "shapes" when list.Length > 0 && list.All(s => GemmShape.TryParse(s, out _)):
                    options = options with { Shapes = [.. list.Select(s => GemmShape.TryParse(s, out var shape) ? shape : default)] };
                    break;
                case "threads" when list.Length > 0 && list.All(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t is >= 1 and <= 256):
                    options = options with { Threads = [.. list.Select(s => int.Parse(s, CultureInfo.InvariantCulture)).Distinct()] };
                    break;
                case "repetitions" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n is >= 3 and <= 200:
                    options = options with { Repetitions = n };
                    break;
                case "warmup" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 50:
                    options = options with { Warmup = n };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        return (options, null);
    }
}
