using Mesh.Models.Networks;

namespace Mesh.Bench.Models;

/// <summary>One network the model benchmarks build: its short key (in options and figure names), what it is, and how to create it seeded.</summary>
public sealed record BenchModel(string Key, string Title, Func<Random, RankingNetwork> Create);

/// <summary>The networks of <c>libs/Mesh.Models</c> the benchmarks know, with their default configurations.</summary>
public static class BenchModels
{
    public static BenchModel Logistic { get; } = new("lr", "logistic regression", rng => new LogisticRegression("lr", rng));

    public static BenchModel Small { get; } = new("small", "DHEN small", rng => new Dhen("small", DhenConfig.Small, rng));

    public static BenchModel Large { get; } = new("large", "DHEN large", rng => new Dhen("large", DhenConfig.Large, rng));

    public static BenchModel InterFormer { get; } = new("interformer", "InterFormer", rng => new InterFormer("interformer", InterFormerConfig.Default, rng));

    /// <summary>Every model, cheapest first.</summary>
    public static IReadOnlyList<BenchModel> All { get; } = [Logistic, Small, Large, InterFormer];

    /// <summary>The interaction tiers whose throughput is worth measuring (logistic regression does next to no arithmetic).</summary>
    public static IReadOnlyList<BenchModel> Tiers { get; } = [Small, Large, InterFormer];

    /// <summary>Models named by a comma-separated list of keys, in the catalogue's order; null when a key is unknown or the list is empty.</summary>
    public static IReadOnlyList<BenchModel>? Parse(string list)
    {
        var keys = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (keys.Length == 0 || keys.Any(k => All.All(m => m.Key != k)))
        {
            return null;
        }

        return [.. All.Where(m => keys.Contains(m.Key))];
    }

    /// <summary>
    /// Draws the parameters the initialiser leaves at zero (biases, prediction heads) uniform in [-0.1, 0.1): with zero
    /// heads every candidate scores the prior, and two runtimes' outputs would agree whatever the layers below computed.
    /// The arithmetic, and so the time, does not depend on the values. Returns <paramref name="network"/>.
    /// </summary>
    public static RankingNetwork WithoutZeroParameters(RankingNetwork network, Random rng)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(rng);
        foreach (var p in network.Parameters.Where(p => !p.Value.Span.ContainsAnyExcept(0f)))
        {
            foreach (ref var v in p.Value.Span)
            {
                v = (float)(rng.NextDouble() - 0.5) * 0.2f;
            }
        }

        return network;
    }
}
