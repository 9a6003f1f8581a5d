using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>
/// The non-sequence features as F = 8 fields of width E, the input of the interaction networks. User side (per request):
/// user id, surface, device, hour, and the user embedding projected to E. Candidate side: ad id, category, and the
/// precomputed representation with its hit flag projected to E. Output (N, F·E), user fields first.
/// </summary>
public sealed class FieldEmbeddings : Module
{
    public const int UserFields = 5;
    public const int AdFields = 3;
    public const int Fields = UserFields + AdFields;

    private readonly EmbeddingTable _user;
    private readonly EmbeddingTable _surface;
    private readonly EmbeddingTable _device;
    private readonly EmbeddingTable _hour;
    private readonly Linear _embedding;
    private readonly EmbeddingTable _ad;
    private readonly EmbeddingTable _category;
    private readonly Linear _precomputed;

    public FieldEmbeddings(string name, int width, Random rng)
        : base(name)
    {
        Width = width;
        _user = AddModule(new EmbeddingTable($"{name}.user", FeatureSpace.UserBuckets, width, rng, 0.01f));
        _surface = AddModule(new EmbeddingTable($"{name}.surface", FeatureSpace.ContextBuckets, width, rng, 0.01f));
        _device = AddModule(new EmbeddingTable($"{name}.device", FeatureSpace.ContextBuckets, width, rng, 0.01f));
        _hour = AddModule(new EmbeddingTable($"{name}.hour", FeatureSpace.Hours, width, rng, 0.01f));
        _embedding = AddModule(new Linear($"{name}.embedding", FeatureSpace.UserEmbeddingDimension, width, rng));
        _ad = AddModule(new EmbeddingTable($"{name}.ad", FeatureSpace.AdBuckets, width, rng, 0.01f));
        _category = AddModule(new EmbeddingTable($"{name}.category", FeatureSpace.CategoryBuckets, width, rng, 0.01f));
        _precomputed = AddModule(new Linear($"{name}.precomputed", FeatureSpace.PrecomputedDimension + 1, width, rng));
    }

    /// <summary>E: the width of one field.</summary>
    public int Width { get; }

    public int OutputDim => Fields * Width;

    public NetworkCost Cost => new(NetworkCost.Dense(FeatureSpace.PrecomputedDimension + 1, Width), NetworkCost.Dense(FeatureSpace.UserEmbeddingDimension, Width));

    /// <summary>user: (R, UserEmbeddingDimension) -> (N, F·E), the user side computed per request and gathered to candidates.</summary>
    public Tensor Forward(Graph g, RankingBatch batch, Tensor user)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        var perRequest = g.Concat(
            _user.Lookup(g, batch.UserIds),
            _surface.Lookup(g, batch.Surfaces),
            _device.Lookup(g, batch.Devices),
            _hour.Lookup(g, batch.Hours),
            _embedding.Forward(g, user));
        var precomputed = g.Input(batch.Precomputed, new Shape(batch.Candidates, FeatureSpace.PrecomputedDimension + 1));
        return g.Concat(
            g.Gather(perRequest, batch.RequestOf),
            _ad.Lookup(g, batch.AdIds),
            _category.Lookup(g, batch.Categories),
            _precomputed.Forward(g, precomputed));
    }
}
