using System.Globalization;

namespace Mesh.Bench.Replay;

/// <summary>Settings of the replay benchmark, from <c>--name value</c> or <c>--name=value</c> arguments.</summary>
public sealed record ReplayOptions
{
    public const string Help = """
        replay options:
          --log <file>          the log: CSV with a header, or JSON lines (.jsonl/.ndjson/.json); without it, the synthetic
                                world's realistic mode is generated (seeded) as a JSON-lines log and replayed
          --mapping <file>      JSON: which columns are the user, item, time, label, request, category and features
                                (bench/mappings/*.json; see bench/README.md); required with --log
          --limit <n>           rows read from the log, in file order (default: all; the generated log: 90000)
          --speed <n>           impressions per second of wall time to pace at (default: as fast as the mesh answers)
          --negatives <mode>    explicit (default): POST /v1/feedback kind noClick for every impression not clicked;
                                window: clicks only, the trainer's label window closes the rest
          --user-events <on|off>  on: POST /v1/events (kind engage) for every click, so the user model sees each
                                user's history as it happens; off (default): the mesh learns from feedback only
          --keep-up <n>         never be more than n impressions ahead of what the trainer has taken in (GET /v1/stats),
                                so that the result does not depend on replay speed (default 1000; 0: no gate)
          --out <dir>           where the plot (and the generated log and mapping) go (default artifacts/replay)
          --seed <n>            seed of the generated log and of the logistic-regression baseline's hashing (default 1)
          --window <share>      rolling-NE window of the plot, as a share of the stream (default 0.1)
          --set <Key=value>     a setting passed to the host as --Key=value (repeatable), e.g. --set Trainer:LabelWindow=00:00:02
          --host <path>         Mesh.Standalone.dll to start (default: the Release build under services/standalone)
        """;

    public string? LogPath { get; init; }

    public string? MappingPath { get; init; }

    /// <summary>Rows read from the log; null: all (90,000 for the generated log).</summary>
    public int? Limit { get; init; }

    /// <summary>Impressions per second of wall time; null: as fast as the mesh answers.</summary>
    public double? Speed { get; init; }

    public NegativeFeedback Negatives { get; init; } = NegativeFeedback.Explicit;

    /// <summary>Whether clicks also go to <c>/v1/events</c> (see <see cref="ReplaySettings.UserEvents"/>). Default off.</summary>
    public bool UserEvents { get; init; }

    /// <summary>The keep-up gate's bound in impressions; 0: no gate. Default <see cref="KeepUpSettings.DefaultBound"/>.</summary>
    public int KeepUp { get; init; } = KeepUpSettings.DefaultBound;

    public string? OutDirectory { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>Rolling-NE window of the plot as a share of the stream. Default 0.1.</summary>
    public double Window { get; init; } = 0.1;

    /// <summary>Host settings, each passed as <c>--Key=value</c> after the replay's own.</summary>
    public IReadOnlyList<string> HostSettings { get; init; } = [];

    public string? HostPath { get; init; }

    public static (ReplayOptions? Options, string? Error) Parse(IReadOnlyList<string> args)
    {
        var (pairs, error) = BenchArguments.Split(args);
        if (pairs is null)
        {
            return (null, error);
        }

        var options = new ReplayOptions();
        foreach (var (name, value) in pairs)
        {
            switch (name)
            {
                case "log" when value.Length > 0:
                    options = options with { LogPath = value };
                    break;
                case "mapping" when value.Length > 0:
                    options = options with { MappingPath = value };
                    break;
                case "limit" when BenchArguments.TryParseInt(value, 1, int.MaxValue, out var limit):
                    options = options with { Limit = limit };
                    break;
                case "speed" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var speed) && speed is > 0 and < 1e7:
                    options = options with { Speed = speed };
                    break;
                case "negatives" when value is "explicit" or "window":
                    options = options with { Negatives = value == "explicit" ? NegativeFeedback.Explicit : NegativeFeedback.Window };
                    break;
                case "user-events" when value is "on" or "off":
                    options = options with { UserEvents = value == "on" };
                    break;
                case "keep-up" when BenchArguments.TryParseInt(value, 0, int.MaxValue, out var keepUp):
                    options = options with { KeepUp = keepUp };
                    break;
                case "out" when value.Length > 0:
                    options = options with { OutDirectory = value };
                    break;
                case "seed" when BenchArguments.TryParseInt(value, 0, int.MaxValue, out var seed):
                    options = options with { Seed = seed };
                    break;
                case "window" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var window) && window is > 0 and <= 1:
                    options = options with { Window = window };
                    break;
                case "set" when value.IndexOf('=', StringComparison.Ordinal) > 0:
                    options = options with { HostSettings = [.. options.HostSettings, "--" + value] };
                    break;
                case "host":
                    options = options with { HostPath = value };
                    break;
                default:
                    return (null, $"unknown option or bad value: --{name} {value}");
            }
        }

        if ((options.LogPath is null) != (options.MappingPath is null))
        {
            return (null, "--log and --mapping go together (neither: the generated synthetic log)");
        }

        return (options, null);
    }

    /// <summary>The keep-up gate's settings; null with <c>--keep-up 0</c>.</summary>
    public KeepUpSettings? GateSettings() => KeepUp == 0 ? null : new KeepUpSettings(KeepUp, LabelWindow());

    /// <summary>
    /// The host's label window: the last <c>--set Trainer:LabelWindow=</c> (a TimeSpan, <c>00:00:02</c>), else the
    /// trainer's default. A value that does not parse leaves the default (the host refuses it anyway).
    /// </summary>
    public TimeSpan LabelWindow()
    {
        const string Key = "--Trainer:LabelWindow=";
        var set = HostSettings.LastOrDefault(s => s.StartsWith(Key, StringComparison.OrdinalIgnoreCase));
        return set is not null && TimeSpan.TryParse(set[Key.Length..], CultureInfo.InvariantCulture, out var window) && window >= TimeSpan.Zero
            ? window
            : KeepUpSettings.DefaultLabelWindow;
    }
}
