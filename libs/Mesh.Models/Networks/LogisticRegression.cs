using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>
/// The baseline: logistic regression on the raw features, one weight per id of each field (user, surface, device,
/// hour, ad, category) plus the mean weight of the categories in the user's sequence, and a bias. It has no crosses:
/// what it cannot learn is exactly what the interaction models are for.
/// </summary>
public sealed class LogisticRegression : RankingNetwork
{
    private readonly EmbeddingTable _user;
    private readonly EmbeddingTable _surface;
    private readonly EmbeddingTable _device;
    private readonly EmbeddingTable _hour;
    private readonly EmbeddingTable _sequence;
    private readonly EmbeddingTable _ad;
    private readonly EmbeddingTable _category;
    private readonly Parameter _bias;

    public LogisticRegression(string name, Random rng, double prior = Priors.ClickRate)
        : base(name)
    {
        _user = AddModule(new EmbeddingTable($"{name}.user", FeatureSpace.UserBuckets, 1, rng, 0f));
        _surface = AddModule(new EmbeddingTable($"{name}.surface", FeatureSpace.ContextBuckets, 1, rng, 0f));
        _device = AddModule(new EmbeddingTable($"{name}.device", FeatureSpace.ContextBuckets, 1, rng, 0f));
        _hour = AddModule(new EmbeddingTable($"{name}.hour", FeatureSpace.Hours, 1, rng, 0f));
        _sequence = AddModule(new EmbeddingTable($"{name}.sequence", FeatureSpace.CategoryBuckets, 1, rng, 0f));
        _ad = AddModule(new EmbeddingTable($"{name}.ad", FeatureSpace.AdBuckets, 1, rng, 0f));
        _category = AddModule(new EmbeddingTable($"{name}.category", FeatureSpace.CategoryBuckets, 1, rng, 0f));
        _bias = AddParameter("bias", new Shape(1));
        _bias.Value.Span.Fill((float)Math.Log(prior / (1 - prior)));
    }

    public override string Architecture => "logistic";

    public override IEnumerable<Parameter> OutputBiases => [_bias];

    public override JsonObject Config => [];

    public override NetworkCost Cost => new(2 * 3, 2 * (4 + FeatureSpace.SequenceLength));

    public override IReadOnlyList<Tensor> Forward(Graph g, RankingBatch batch, Tensor user)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        var offsets = new int[batch.Requests + 1];
        for (var r = 0; r <= batch.Requests; r++)
        {
            offsets[r] = r * FeatureSpace.SequenceLength;
        }

        var perRequest = g.Add(
            g.Add(g.Add(_user.Lookup(g, batch.UserIds), _surface.Lookup(g, batch.Surfaces)), g.Add(_device.Lookup(g, batch.Devices), _hour.Lookup(g, batch.Hours))),
            _sequence.Bag(g, batch.SequenceCategories, offsets, Pooling.Mean));
        var logits = g.Add(g.Add(g.Gather(perRequest, batch.RequestOf), g.Add(_ad.Lookup(g, batch.AdIds), _category.Lookup(g, batch.Categories))), _bias.Value);
        return [g.Reshape(logits, new Shape(batch.Candidates))];
    }
}
