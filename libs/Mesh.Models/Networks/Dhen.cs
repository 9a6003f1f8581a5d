using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>Shape of a <see cref="Dhen"/> tier: field width E, layers, the MLP module's hidden width, attention heads.</summary>
public sealed record DhenConfig(int Width, int Layers, int Hidden, int Heads)
{
    /// <summary>
    /// Auxiliary distillation heads on the last layer (ExFM's ŷ_D, and ŷ_D′ for the student adapter's target), never
    /// served. Default 0: the tier as before, and a checkpoint config without the field.
    /// </summary>
    public int DistillationHeads { get; init; }

    /// <summary>The early-stage tier: one narrow layer.</summary>
    public static DhenConfig Small { get; } = new(Width: 16, Layers: 1, Hidden: 128, Heads: 2);

    /// <summary>The final-stage tier: three wide layers, an exit head after each.</summary>
    public static DhenConfig Large { get; } = new(Width: 32, Layers: 3, Hidden: 512, Heads: 2);

    public JsonObject ToJson()
    {
        var json = new JsonObject { ["width"] = Width, ["layers"] = Layers, ["hidden"] = Hidden, ["heads"] = Heads };
        if (DistillationHeads > 0)
        {
            json["distillationHeads"] = DistillationHeads; // absent when 0, so older readers and configs are unchanged
        }

        return json;
    }

    public static DhenConfig FromJson(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new((int)json["width"]!, (int)json["layers"]!, (int)json["hidden"]!, (int)json["heads"]!)
        {
            DistillationHeads = (int?)json["distillationHeads"] ?? 0,
        };
    }
}

/// <summary>
/// DHEN (Deep and Hierarchical Ensemble Network): a stack of layers, each an ensemble of heterogeneous interaction
/// modules over the same input, namely self-attention across the F feature fields, a DCN-v2 cross layer against the
/// first layer's input, and an MLP. Their outputs are concatenated, projected back to F·E, added to the layer's input
/// (shortcut) and layer-normalised. A prediction head follows every layer (multi-head early exit): the heads below the
/// last train jointly with it, through a gradient scaled by <see cref="AuxiliaryGradient"/> so that they do not pull
/// the shared layers away from the final prediction.
/// </summary>
public sealed class Dhen : RankingNetwork
{
    /// <summary>Share of an auxiliary head's gradient that reaches the layers below it.</summary>
    public const float AuxiliaryGradient = 0.25f;

    private readonly FieldEmbeddings _fields;
    private readonly DhenLayer[] _layers;
    private readonly Linear[] _heads;
    private readonly Linear[] _distillation;

    public Dhen(string name, DhenConfig config, Random rng, double prior = Priors.ClickRate, FeatureSchema? features = null)
        : base(name, features)
    {
        ArgumentNullException.ThrowIfNull(config);
        Settings = config;
        _fields = AddModule(new FieldEmbeddings($"{name}.fields", config.Width, rng, Features));
        _layers = new DhenLayer[config.Layers];
        _heads = new Linear[config.Layers];
        for (var l = 0; l < config.Layers; l++)
        {
            _layers[l] = AddModule(new DhenLayer($"{name}.layer{l}", _fields.Fields, config, rng));
            _heads[l] = AddModule(Priors.Head($"{name}.head{l}", _fields.OutputDim, rng, prior));
        }

        // From their own generator: with or without them, the caller's generator draws the same served weights here and
        // in every network built after this one.
        var distillationRng = Priors.DistillationRandom(name);
        _distillation = new Linear[config.DistillationHeads];
        for (var k = 0; k < _distillation.Length; k++)
        {
            _distillation[k] = AddModule(Priors.Head($"{name}.distill{k}", _fields.OutputDim, distillationRng, prior));
        }
    }

    public DhenConfig Settings { get; }

    public override string Architecture => "dhen";

    public override JsonObject Config => Settings.ToJson();

    /// <summary>F: the fields each layer attends across (8 built-in plus one per configured feature).</summary>
    public int Fields => _fields.Fields;

    public override IEnumerable<Parameter> OutputBiases => _heads.Select(h => h.Bias!);

    /// <summary>Number of layers, and of exit heads.</summary>
    public int Depth => _layers.Length;

    public override NetworkCost Cost => _fields.Cost + new NetworkCost(Depth * LayerFlops, 0);

    /// <summary>FLOPs of one layer plus its head on one candidate: the unit of the early-exit compute figures.</summary>
    public long LayerFlops => _layers[0].Flops + NetworkCost.Dense(_fields.OutputDim, 1);

    public override int DistillationHeads => _distillation.Length;

    public override IReadOnlyList<Tensor> Forward(Graph g, RankingBatch batch, Tensor user) => Backbone(g, batch, user).Logits;

    public override NetworkOutputs ForwardWithDistillation(Graph g, RankingBatch batch, Tensor user, float backboneGradient)
    {
        var (logits, last) = Backbone(g, batch, user);
        var shared = g.ScaleGradient(last, backboneGradient);
        var distilled = _distillation.Select(h => g.Reshape(h.Forward(g, shared), new Shape(batch.Candidates))).ToArray();
        return new NetworkOutputs(logits, distilled);
    }

    // Every exit head's logits (N each, final last) and the last layer's output (N, F·E), the backbone the heads share.
    private (Tensor[] Logits, Tensor Last) Backbone(Graph g, RankingBatch batch, Tensor user)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        var x0 = _fields.Forward(g, batch, user);
        var x = x0;
        var logits = new Tensor[Depth];
        for (var l = 0; l < Depth; l++)
        {
            x = _layers[l].Forward(g, x0, x);
            var input = l < Depth - 1 ? g.ScaleGradient(x, AuxiliaryGradient) : x;
            logits[l] = g.Reshape(_heads[l].Forward(g, input), new Shape(batch.Candidates));
        }

        return (logits, x);
    }

    /// <summary>
    /// Serving with early exit: after each layer but the last, a candidate whose head predicts less than
    /// <paramref name="rule"/>'s threshold times the k-th best prediction among its request's remaining candidates stops
    /// there, scored by that head; the rest go on to the next layer. Returns the candidate-layers computed (N·Depth
    /// without exits).
    /// </summary>
    public long ScoreWithEarlyExit(Graph g, RankingBatch batch, Tensor user, EarlyExitRule rule, Span<float> scores)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        var x0 = _fields.Forward(g, batch, user);
        var x = x0;
        var active = Enumerable.Range(0, batch.Candidates).ToArray(); // active position -> candidate
        var probabilities = new float[batch.Candidates];
        long computed = 0;
        for (var l = 0; l < Depth; l++)
        {
            x = _layers[l].Forward(g, x0, x);
            computed += active.Length;
            var p = probabilities.AsSpan(0, active.Length);
            System.Numerics.Tensors.TensorPrimitives.Sigmoid(_heads[l].Forward(g, x).Span, p);
            var last = l == Depth - 1;
            int[] keep = last ? [] : rule.Survivors(p, active, batch.RequestOf);
            for (var i = 0; i < active.Length; i++)
            {
                scores[active[i]] = p[i]; // overwritten by a later head when the candidate goes on
            }

            if (last || keep.Length == 0)
            {
                break;
            }

            if (keep.Length < active.Length)
            {
                x0 = g.Gather(x0, keep);
                x = g.Gather(x, keep);
                active = [.. keep.Select(i => active[i])];
            }
        }

        return computed;
    }
}

/// <summary>One DHEN layer: the ensemble (attention, cross, MLP), its projection, the shortcut and the norm.</summary>
internal sealed class DhenLayer : Module
{
    private readonly int _fields;
    private readonly int _width;
    private readonly MultiHeadSelfAttention _attention;
    private readonly CrossLayer _cross;
    private readonly Mlp _mlp;
    private readonly Linear _mix;
    private readonly LayerNorm _norm;

    public DhenLayer(string name, int fields, DhenConfig config, Random rng)
        : base(name)
    {
        _fields = fields;
        _width = config.Width;
        var dim = fields * config.Width;
        _attention = AddModule(new MultiHeadSelfAttention($"{name}.attention", config.Width, config.Heads, rng));
        _cross = AddModule(new CrossLayer($"{name}.cross", dim, rng));
        _mlp = AddModule(new Mlp($"{name}.mlp", [dim, config.Hidden, dim], rng));
        _mix = AddModule(new Linear($"{name}.mix", 3 * dim, dim, rng));
        _norm = AddModule(new LayerNorm($"{name}.norm", dim));
        var hidden = config.Hidden;
        Flops = NetworkCost.SelfAttention(fields, config.Width) + NetworkCost.Dense(dim, dim)
            + NetworkCost.Dense(dim, hidden) + NetworkCost.Dense(hidden, dim) + NetworkCost.Dense(3 * dim, dim);
    }

    /// <summary>Per candidate.</summary>
    public long Flops { get; }

    /// <summary>x0, x: (n, F·E) -> (n, F·E).</summary>
    public Tensor Forward(Graph g, Tensor x0, Tensor x)
    {
        var n = x.Shape[0];
        var fields = g.Reshape(x, new Shape(n, _fields, _width));
        var attended = g.Reshape(_attention.Forward(g, fields), new Shape(n, _fields * _width));
        var ensemble = g.Concat(attended, _cross.Forward(g, x0, x), _mlp.Forward(g, x));
        return _norm.Forward(g, g.Add(x, _mix.Forward(g, ensemble)));
    }
}
