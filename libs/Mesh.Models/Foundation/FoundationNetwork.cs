using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models.Foundation;

/// <summary>
/// Shape of a <see cref="FoundationNetwork"/>: a deep DHEN (field width E, layers, MLP hidden width, attention heads).
/// </summary>
public sealed record FoundationConfig(int Width, int Layers, int Hidden, int Heads)
{
    /// <summary>
    /// The mesh's foundation model: eight DHEN layers of width 32 with a 1024-wide MLP, 3.3 times the large tier's
    /// FLOPs per candidate by <see cref="RankingNetwork.Cost"/> (11.06 M against 3.37 M; a test holds it to at least 3).
    /// </summary>
    public static FoundationConfig Default { get; } = new(Width: 32, Layers: 8, Hidden: 1024, Heads: 2);

    public JsonObject ToJson() => new() { ["width"] = Width, ["layers"] = Layers, ["hidden"] = Hidden, ["heads"] = Heads };

    public static FoundationConfig FromJson(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new((int)json["width"]!, (int)json["layers"]!, (int)json["hidden"]!, (int)json["heads"]!);
    }

    internal DhenConfig Dhen => new(Width, Layers, Hidden, Heads);
}

/// <summary>
/// The foundation model's network (ExFM's teacher, SOLARIS's precomputed representation): a deep DHEN over the same
/// fields as the tiers except the precomputed representation, which it produces. Per (user, ad) candidate it gives a
/// click logit (ŷ_F after a sigmoid) and an interaction representation e_FM of
/// <see cref="FeatureSpace.PrecomputedDimension"/> floats, tanh of a projection of the last layer, so each value is in
/// (-1, 1). As a <see cref="RankingNetwork"/> it trains with <see cref="RankingTrainer"/> (one head, the click logit);
/// it is not a serving tier and has no ONNX export.
/// </summary>
public sealed class FoundationNetwork : RankingNetwork
{
    private readonly FieldEmbeddings _fields;
    private readonly DhenLayer[] _layers;
    private readonly Linear _head;
    private readonly Linear _representation;

    public FoundationNetwork(string name, FoundationConfig config, Random rng, double prior = Priors.ClickRate, FeatureSchema? features = null)
        : base(name, features)
    {
        ArgumentNullException.ThrowIfNull(config);
        Settings = config;
        _fields = AddModule(new FieldEmbeddings($"{name}.fields", config.Width, rng, Features, precomputed: false));
        _layers = [.. Enumerable.Range(0, config.Layers).Select(l => AddModule(new DhenLayer($"{name}.layer{l}", _fields.Fields, config.Dhen, rng)))];
        _head = AddModule(Priors.Head($"{name}.head", _fields.OutputDim, rng, prior));
        _representation = AddModule(new Linear($"{name}.representation", _fields.OutputDim, FeatureSpace.PrecomputedDimension, rng));
    }

    public FoundationConfig Settings { get; }

    public override string Architecture => "foundation-dhen";

    public override JsonObject Config => Settings.ToJson();

    /// <summary>The click prediction only; the representation is computed by <see cref="Represent"/>.</summary>
    public override NetworkCost Cost => _fields.Cost + new NetworkCost((Settings.Layers * _layers[0].Flops) + NetworkCost.Dense(_fields.OutputDim, 1), 0);

    public override IEnumerable<Parameter> OutputBiases => [_head.Bias!];

    public override IReadOnlyList<Tensor> Forward(Graph g, RankingBatch batch, Tensor user) =>
        [g.Reshape(_head.Forward(g, Backbone(g, batch, user)), new Shape(batch.Candidates))];

    /// <summary>Click logits (N) and representations (N, <see cref="FeatureSpace.PrecomputedDimension"/>) of the batch's candidates.</summary>
    public (Tensor Logits, Tensor Representations) Represent(Graph g, RankingBatch batch, Tensor user)
    {
        var x = Backbone(g, batch, user);
        return (g.Reshape(_head.Forward(g, x), new Shape(batch.Candidates)), g.Tanh(_representation.Forward(g, x)));
    }

    private Tensor Backbone(Graph g, RankingBatch batch, Tensor user)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        var x0 = _fields.Forward(g, batch, user);
        var x = x0;
        foreach (var layer in _layers)
        {
            x = layer.Forward(g, x0, x);
        }

        return x;
    }
}
