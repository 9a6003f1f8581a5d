using System.Text.Json.Nodes;
using Mesh.Contracts;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>
/// The baseline: logistic regression on the raw features, one weight per id of each field (user, surface, device,
/// hour, ad, category) plus the mean weight of the categories in the user's sequence, and a bias. It has no crosses:
/// what it cannot learn is exactly what the interaction models are for. A configured categorical feature adds the mean
/// weight of its values' buckets, a numeric one w·[value, present]; all start at zero.
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
    private readonly Module[] _features;

    public LogisticRegression(string name, Random rng, double prior = Priors.ClickRate, FeatureSchema? features = null)
        : base(name, features)
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
        _features = [.. Features.Features.Select(f => f.Kind == FeatureKind.Categorical
            ? (Module)AddModule(new EmbeddingTable(FieldEmbeddings.FeatureLayerName(name, f.Name), f.Buckets, 1, rng, 0f))
            : AddModule(ZeroLinear(FieldEmbeddings.FeatureLayerName(name, f.Name), rng)))];
    }

    public override string Architecture => "logistic";

    public override IEnumerable<Parameter> OutputBiases => [_bias];

    public override JsonObject Config => [];

    public override NetworkCost Cost => new(2 * (3 + Features.Candidate.Count), 2 * (4 + FeatureSpace.SequenceLength + Features.Context.Count));

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
        var perCandidate = g.Add(_ad.Lookup(g, batch.AdIds), _category.Lookup(g, batch.Categories));
        for (var i = 0; i < _features.Length; i++)
        {
            var column = batch.Feature(Features.Features[i].Name);
            var term = _features[i] is EmbeddingTable table
                ? table.Bag(g, column.Ids, column.Offsets, Pooling.Mean)
                : ((Linear)_features[i]).Forward(g, g.Input(column.Values, new Shape(column.Rows, 2)));
            if (column.Field.Side == FeatureSide.Context)
            {
                perRequest = g.Add(perRequest, term);
            }
            else
            {
                perCandidate = g.Add(perCandidate, term);
            }
        }

        var logits = g.Add(g.Add(g.Gather(perRequest, batch.RequestOf), perCandidate), _bias.Value);
        return [g.Reshape(logits, new Shape(batch.Candidates))];
    }

    private static Linear ZeroLinear(string name, Random rng)
    {
        var linear = new Linear(name, 2, 1, rng, bias: false);
        linear.Weight.Value.Span.Clear();
        return linear;
    }
}
