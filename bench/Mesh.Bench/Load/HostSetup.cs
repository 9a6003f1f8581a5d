namespace Mesh.Bench.Load;

/// <summary>
/// One start of the standalone host for the load benchmark: what it is called on the command line (<c>--compare</c>),
/// the infix of its figures (<c>rank_500_training_rps</c>; none for <see cref="Serving"/>, the headline) and the
/// settings passed to it after the benchmark's own.
/// </summary>
public sealed record HostSetup(string Name, string Key, string Description, IReadOnlyList<string> Settings)
{
    /// <summary>The headline: training off, the ranker's defaults (batching on). Measured first, with the bare baseline.</summary>
    public static readonly HostSetup Serving = new(
        "serving", "", "training off (--Trainer:Train=false), batching on (the ranker's defaults)", ["--Trainer:Train=false"]);

    /// <summary>The trainer training on what the requests leave behind (its default), on the same cores.</summary>
    public static readonly HostSetup Training = new(
        "training", "training", "training on (--Trainer:Train=true), batching on", ["--Trainer:Train=true"]);

    /// <summary>Training off and batching off: every score call runs its own ONNX Runtime run.</summary>
    public static readonly HostSetup Unbatched = new(
        "unbatched", "unbatched", "training off, batching off (--Ranker:MaxBatchCandidates=1)", ["--Trainer:Train=false", "--Ranker:MaxBatchCandidates=1"]);

    /// <summary>
    /// Training off and telemetry off: no OpenTelemetry pipeline, no <c>/metrics</c>, so no span or instrument has a
    /// listener. Against the headline (telemetry on) it is the cost of telemetry.
    /// </summary>
    public static readonly HostSetup NoTelemetry = new(
        "no-telemetry", "no_telemetry", "training off, telemetry off (--Telemetry:Enabled=false)", ["--Trainer:Train=false", "--Telemetry:Enabled=false"]);

    /// <summary>The setups <c>--compare</c> may name.</summary>
    public static IReadOnlyList<HostSetup> Comparisons { get; } = [Training, Unbatched, NoTelemetry];

    /// <summary>Whether the host's trainer trains (what <c>/v1/stats</c> must then report under <c>trainer.train</c>).</summary>
    public bool Trains => !Settings.Contains("--Trainer:Train=false");

    /// <summary>A figure's name: <c>rank_{candidates}_{suffix}</c>, with this setup's key after the candidate count.</summary>
    public string Figure(int candidates, string suffix) => Key.Length == 0 ? $"rank_{candidates}_{suffix}" : $"rank_{candidates}_{Key}_{suffix}";

    /// <summary>
    /// A comma-separated list of <see cref="Comparisons"/> by name, or <c>none</c>; repeats are dropped, the first
    /// order kept. False for an empty list or an unknown name.
    /// </summary>
    public static bool TryParseList(string value, out IReadOnlyList<HostSetup> setups)
    {
        ArgumentNullException.ThrowIfNull(value);
        setups = [];
        var names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names is ["none"])
        {
            return true;
        }

        var list = new List<HostSetup>();
        foreach (var name in names)
        {
            if (Comparisons.FirstOrDefault(s => s.Name == name) is not { } setup)
            {
                return false;
            }

            list.Add(setup);
        }

        setups = [.. list.Distinct()];
        return list.Count > 0;
    }
}
