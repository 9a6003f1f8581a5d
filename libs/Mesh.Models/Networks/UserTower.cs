using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>
/// The user tower (SUM's upstream model): the user's newest <see cref="FeatureSpace.SequenceLength"/> events, each
/// the sum of its category, kind and age-bucket embeddings, go through one self-attention block (residual + layer
/// norm) and attention pooling with two learned queries, then a dense layer and tanh to a bounded embedding of
/// <see cref="FeatureSpace.UserEmbeddingDimension"/>. A user with no events gets zeros, the same vector serving uses
/// for an unknown user. It runs once per request (in training) or once per user event (in user-model).
/// </summary>
public sealed class UserTower : Module
{
    private const int Dim = FeatureSpace.UserEmbeddingDimension;
    private const int Queries = 2;
    private const int Heads = 2;

    private readonly EmbeddingTable _category;
    private readonly EmbeddingTable _kind;
    private readonly EmbeddingTable _age;
    private readonly MultiHeadSelfAttention _attention;
    private readonly LayerNorm _norm;
    private readonly AttentionPooling _pooling;
    private readonly Linear _output;

    public UserTower(string name, Random rng)
        : base(name)
    {
        _category = AddModule(new EmbeddingTable($"{name}.category", FeatureSpace.CategoryBuckets, Dim, rng, 0.1f));
        _kind = AddModule(new EmbeddingTable($"{name}.kind", FeatureSpace.Kinds, Dim, rng, 0.1f));
        _age = AddModule(new EmbeddingTable($"{name}.age", FeatureSpace.AgeBuckets, Dim, rng, 0.1f));
        _attention = AddModule(new MultiHeadSelfAttention($"{name}.attention", Dim, Heads, rng));
        _norm = AddModule(new LayerNorm($"{name}.norm", Dim));
        _pooling = AddModule(new AttentionPooling($"{name}.pooling", Dim, Queries, Heads, rng));
        _output = AddModule(new Linear($"{name}.output", Queries * Dim, Dim, rng));
    }

    public static JsonObject Config => new() { ["dim"] = Dim, ["sequence"] = FeatureSpace.SequenceLength, ["queries"] = Queries, ["heads"] = Heads };

    /// <summary>Per request: attention over the sequence, pooling and the output layer.</summary>
    public static long FlopsPerRequest
    {
        get
        {
            const int T = FeatureSpace.SequenceLength;
            return NetworkCost.SelfAttention(T, Dim)
                + (2 * T * NetworkCost.Dense(Dim, Dim)) + (2 * 2L * Queries * T * Dim)
                + NetworkCost.Dense(Queries * Dim, Dim);
        }
    }

    /// <summary>The embeddings (R, <see cref="FeatureSpace.UserEmbeddingDimension"/>) of the batch's requests.</summary>
    public Tensor Forward(Graph g, RankingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        var tokens = Tokens(g, batch);
        var mask = g.Input(batch.SequenceMask, new Shape(batch.Requests, FeatureSpace.SequenceLength));
        var h = _norm.Forward(g, g.Add(tokens, _attention.Forward(g, tokens, mask)));
        var pooled = _pooling.Forward(g, h, mask);
        var embedding = g.Tanh(_output.Forward(g, pooled));
        return g.Mul(embedding, g.Input(batch.HasSequence, new Shape(batch.Requests, Dim)));
    }

    /// <summary>The event tokens (R, T, dim): category + kind + age embeddings; padding rows are zeros.</summary>
    internal Tensor Tokens(Graph g, RankingBatch batch)
    {
        var tokens = g.Add(g.Add(_category.Lookup(g, batch.SequenceCategories), _kind.Lookup(g, batch.SequenceKinds)), _age.Lookup(g, batch.SequenceAges));
        return g.Reshape(tokens, new Shape(batch.Requests, FeatureSpace.SequenceLength, Dim));
    }
}
