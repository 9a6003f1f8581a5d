using System.Globalization;
using Mesh.Models.Distillation;

namespace Mesh.Bench.Exfm;

/// <summary>Settings of the ExFM ablation (<c>bench/run.sh exfm</c>), from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record ExfmOptions
{
    public const string Help = """
        exfm options:
          --requests <n>   requests of the measured stream, 10 served per request (default 3000, 100 to 1000000);
                           the figures are its second half
          --pretrain <n>   requests the foundation model trains on before the stream, then published (default 6000,
                           0 to 1000000; 0: no teacher until the first publish)
          --lag <n>        batches of 32 requests between two publishes of the foundation model: the teacher the
                           students learn from is up to this many batches old (default 20, 1 to 100000)
          --seeds <list>   seeds of the world, its traffic, the click draws and the models, comma-separated; a table
                           per seed and the mean (default 1)
          --alpha <a>      label scaling: target min(1, a * p_F) (default 1, > 0)
          --beta <b>       gradient scaling from the distillation heads into the backbone (default 1, >= 0)
          --w <w>          weight of the teacher's term in the loss (default 1, >= 0)
          --arms <list>    nofm, kd, ah, ah-sa, comma-separated (default all four)
          --rate <r>       simulated requests per second (default 100, the other benchmarks'; 0.1 to 1000): lower
                           spreads the same requests over more simulated time, so interests drift and ads turn
                           over more between two publishes of the FM
        """;

    /// <summary>Requests of the measured stream (10 impressions each). Default 3,000: one seed in about a minute on 2 cores.</summary>
    public int Requests { get; init; } = 3_000;

    /// <summary>Requests the foundation model trains on before the stream (then published as version 1). Default 6,000.</summary>
    public int Pretrain { get; init; } = 6_000;

    /// <summary>Batches (32 requests each) between two publishes of the foundation model. Default 20.</summary>
    public int Lag { get; init; } = 20;

    public IReadOnlyList<int> Seeds { get; init; } = [1];

    /// <summary>α, label scaling of the teacher's target. Default 1.</summary>
    public float Alpha { get; init; } = 1f;

    /// <summary>β, the distillation heads' gradient into the backbone is multiplied by it. Default 1.</summary>
    public float Beta { get; init; } = 1f;

    /// <summary>w, weight of the teacher's term. Default 1.</summary>
    public float W { get; init; } = 1f;

    /// <summary>The students trained, in the table's order. Default all four arms.</summary>
    public IReadOnlyList<DistillationMode> Arms { get; init; } = AllArms;

    /// <summary>
    /// Simulated requests per second (<see cref="Models.ImpressionStreamOptions.RequestsPerSecond"/>). Default 100: the
    /// default stream of 9,000 requests spans 90 simulated seconds, in which interests drift little.
    /// </summary>
    public double Rate { get; init; } = 100;

    /// <summary>The four arms of the ablation, in order.</summary>
    public static IReadOnlyList<DistillationMode> AllArms { get; } =
        [DistillationMode.None, DistillationMode.ServingHead, DistillationMode.AuxiliaryHead, DistillationMode.AuxiliaryHeadWithAdapter];

    /// <summary>The short name of an arm (option values, table rows, <c>exfm_&lt;key&gt;_ne</c> figures).</summary>
    public static string Key(DistillationMode mode) => mode switch
    {
        DistillationMode.None => "nofm",
        DistillationMode.ServingHead => "kd",
        DistillationMode.AuxiliaryHead => "ah",
        DistillationMode.AuxiliaryHeadWithAdapter => "ah_sa",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    public static (ExfmOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new ExfmOptions();
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "requests" when BenchArguments.TryParseInt(value, 100, 1_000_000, out var n):
                    options = options with { Requests = n };
                    break;
                case "pretrain" when BenchArguments.TryParseInt(value, 0, 1_000_000, out var n):
                    options = options with { Pretrain = n };
                    break;
                case "lag" when BenchArguments.TryParseInt(value, 1, 100_000, out var n):
                    options = options with { Lag = n };
                    break;
                case "seeds" when BenchArguments.TryParseIntList(value, 0, int.MaxValue, out var seeds):
                    options = options with { Seeds = seeds };
                    break;
                case "alpha" when TryParseFloat(value, out var a) && a > 0:
                    options = options with { Alpha = a };
                    break;
                case "beta" when TryParseFloat(value, out var b) && b >= 0:
                    options = options with { Beta = b };
                    break;
                case "w" when TryParseFloat(value, out var w) && w >= 0:
                    options = options with { W = w };
                    break;
                case "arms" when TryParseArms(value, out var arms):
                    options = options with { Arms = arms };
                    break;
                case "rate" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is >= 0.1 and <= 1000:
                    options = options with { Rate = r };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        return (options, null);
    }

    private static bool TryParseFloat(string value, out float result) =>
        float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out result) && float.IsFinite(result) && result <= 1e6f;

    // Kept in the ablation's order whatever the order given, so that tables of different runs line up.
    private static bool TryParseArms(string value, out IReadOnlyList<DistillationMode> result)
    {
        var chosen = new HashSet<DistillationMode>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var arm = AllArms.Where(m => Key(m) == part.Replace('-', '_')).ToArray();
            if (arm.Length == 0)
            {
                result = [];
                return false;
            }

            chosen.Add(arm[0]);
        }

        result = [.. AllArms.Where(chosen.Contains)];
        return chosen.Count > 0;
    }
}
