using System.ComponentModel.DataAnnotations;
using Mesh.Onnx;

namespace Mesh.Serving;

/// <summary>
/// How the ranking model runs on ONNX Runtime (section <c>Serving</c>). The services that serve it say what they need:
/// the ranker its tiers on its devices (<c>Ranker:Devices</c>), user-model the user tower.
/// </summary>
public sealed class ServingOptions
{
    /// <summary>In <see cref="Graphs"/>: every tier of the model, whatever their names.</summary>
    public const string AllTiers = "*tiers";

    /// <summary>
    /// Threads ONNX Runtime may use inside one run; 0 is its own choice, one per physical core. Default 1: the ranker
    /// runs a worker per core (<c>Ranker:WorkersPerDevice</c>), and the networks' operators are too small to split well.
    /// </summary>
    [Range(0, 256)]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Execution targets, one replica of the model each: <c>cpu</c>, <c>cuda:0</c>, ... Set from <c>Ranker:Devices</c>; empty (the default) is <c>cpu</c>.</summary>
    public IReadOnlyList<string> Targets { get; set; } = [];

    /// <summary>Run a CUDA target that cannot start on the CPU instead of stopping (logged, and shown in <c>/v1/stats</c>). Default false.</summary>
    public bool AllowCpuFallback { get; set; }

    /// <summary>The graphs this process serves: <c>user-tower</c> and/or <see cref="AllTiers"/>, added by each service's registration.</summary>
    public ISet<string> Graphs { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Whether this process serves <paramref name="graph"/> (<c>user-tower</c> or a tier's name).</summary>
    public bool Serves(string graph) => Graphs.Contains(graph) || (graph != OnnxNames.UserTower && Graphs.Contains(AllTiers));
}
