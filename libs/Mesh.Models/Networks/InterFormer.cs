using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>Shape of an <see cref="InterFormer"/>: token width E, layers, summary tokens each way, FFN and head widths.</summary>
public sealed record InterFormerConfig(int Width, int Layers, int SummaryTokens, int Heads, int Hidden)
{
    public static InterFormerConfig Default { get; } = new(Width: 32, Layers: 2, SummaryTokens: 2, Heads: 2, Hidden: 256);

    /// <summary>
    /// Auxiliary distillation heads (MLPs shaped like the serving head, on the same input), never served. Default 0:
    /// the network as before, and a checkpoint config without the field.
    /// </summary>
    public int DistillationHeads { get; init; }

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["width"] = Width,
            ["layers"] = Layers,
            ["summaryTokens"] = SummaryTokens,
            ["heads"] = Heads,
            ["hidden"] = Hidden,
        };
        if (DistillationHeads > 0)
        {
            json["distillationHeads"] = DistillationHeads;
        }

        return json;
    }

    public static InterFormerConfig FromJson(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new((int)json["width"]!, (int)json["layers"]!, (int)json["summaryTokens"]!, (int)json["heads"]!, (int)json["hidden"]!)
        {
            DistillationHeads = (int?)json["distillationHeads"] ?? 0,
        };
    }
}

/// <summary>
/// InterFormer: the non-sequence features (the F fields of <see cref="FieldEmbeddings"/>) and the behaviour sequence
/// learn from each other in every layer, in both directions, through separate summaries instead of one flattened input.
/// Per layer:
/// <list type="number">
/// <item>Sequence → features: the sequence is summarised by attention pooling with learned queries (PMA) into S tokens;
/// the F field tokens and those S tokens go through self-attention and a token-wise FFN (residual + norm each); the F
/// field tokens are kept.</item>
/// <item>Features → sequence: the updated fields are compressed by a dense layer into S tokens, placed in front of the
/// sequence; self-attention (padding masked) and an FFN run over both; the sequence positions are kept.</item>
/// </list>
/// The head reads the final fields and a last summary of the sequence. The sequence arm is conditioned on the candidate,
/// so it runs per candidate: this is the expensive, most expressive tier (and the teacher candidate).
/// </summary>
public sealed class InterFormer : RankingNetwork
{
    private readonly FieldEmbeddings _fields;
    private readonly EmbeddingTable _category;
    private readonly EmbeddingTable _kind;
    private readonly EmbeddingTable _age;
    private readonly InterFormerLayer[] _layers;
    private readonly AttentionPooling _summary;
    private readonly Mlp _head;
    private readonly Mlp[] _distillation;

    public InterFormer(string name, InterFormerConfig config, Random rng, double prior = Priors.ClickRate, FeatureSchema? features = null)
        : base(name, features)
    {
        ArgumentNullException.ThrowIfNull(config);
        Settings = config;
        var e = config.Width;
        _fields = AddModule(new FieldEmbeddings($"{name}.fields", e, rng, Features));
        _category = AddModule(new EmbeddingTable($"{name}.sequence.category", FeatureSpace.CategoryBuckets, e, rng, 0.1f));
        _kind = AddModule(new EmbeddingTable($"{name}.sequence.kind", FeatureSpace.Kinds, e, rng, 0.1f));
        _age = AddModule(new EmbeddingTable($"{name}.sequence.age", FeatureSpace.AgeBuckets, e, rng, 0.1f));
        _layers = new InterFormerLayer[config.Layers];
        for (var l = 0; l < config.Layers; l++)
        {
            _layers[l] = AddModule(new InterFormerLayer($"{name}.layer{l}", config, _fields.Fields, rng));
        }

        _summary = AddModule(new AttentionPooling($"{name}.summary", e, config.SummaryTokens, config.Heads, rng));
        var headInput = (_fields.Fields + config.SummaryTokens) * e;
        _head = AddModule(PriorMlp($"{name}.head", headInput, config.Hidden, rng, prior));

        // From their own generator: with or without them, the caller's generator draws the same served weights here and
        // in every network built after this one.
        var distillationRng = Priors.DistillationRandom(name);
        _distillation = [.. Enumerable.Range(0, config.DistillationHeads).Select(k => AddModule(PriorMlp($"{name}.distill{k}", headInput, config.Hidden, distillationRng, prior)))];
    }

    public InterFormerConfig Settings { get; }

    /// <summary>F: the field tokens (8 built-in plus one per configured feature).</summary>
    public int Fields => _fields.Fields;

    public override string Architecture => "interformer";

    public override IEnumerable<Parameter> OutputBiases => [_head.Layers[^1].Bias!];

    public override JsonObject Config => Settings.ToJson();

    public override NetworkCost Cost
    {
        get
        {
            int e = Settings.Width, s = Settings.SummaryTokens, f = _fields.Fields, t = FeatureSpace.SequenceLength;
            var pooling = (2 * t * NetworkCost.Dense(e, e)) + (2 * 2L * s * t * e);
            var perLayer = _layers[0].Flops(pooling);
            var head = pooling + NetworkCost.Dense((f + s) * e, Settings.Hidden) + NetworkCost.Dense(Settings.Hidden, 1);
            return _fields.Cost + new NetworkCost((Settings.Layers * perLayer) + head, 0);
        }
    }

    public override int DistillationHeads => _distillation.Length;

    public override IReadOnlyList<Tensor> Forward(Graph g, RankingBatch batch, Tensor user)
    {
        var input = HeadInput(g, batch, user);
        return [g.Reshape(_head.Forward(g, input), new Shape(batch.Candidates))];
    }

    public override NetworkOutputs ForwardWithDistillation(Graph g, RankingBatch batch, Tensor user, float backboneGradient)
    {
        var input = HeadInput(g, batch, user);
        var serving = g.Reshape(_head.Forward(g, input), new Shape(batch.Candidates));
        var shared = g.ScaleGradient(input, backboneGradient);
        return new NetworkOutputs([serving], [.. _distillation.Select(h => g.Reshape(h.Forward(g, shared), new Shape(batch.Candidates)))]);
    }

    // An MLP head [in, hidden, 1] whose last layer starts at zero weights and the prior's logit: it predicts the prior.
    private static Mlp PriorMlp(string name, int input, int hidden, Random rng, double prior)
    {
        var mlp = new Mlp(name, [input, hidden, 1], rng);
        var last = mlp.Layers[^1];
        last.Weight.Value.Span.Clear();
        last.Bias!.Value.Span.Fill((float)Math.Log(prior / (1 - prior)));
        return mlp;
    }

    // The heads' shared input (N, (F + S)·E): the final fields and a last summary of the sequence.
    private Tensor HeadInput(Graph g, RankingBatch batch, Tensor user)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        int n = batch.Candidates, e = Settings.Width, t = FeatureSpace.SequenceLength;
        var x = _fields.Forward(g, batch, user);

        // The sequence's tokens are embedded once per request, then broadcast: each candidate conditions its own copy.
        var tokens = g.Add(g.Add(_category.Lookup(g, batch.SequenceCategories), _kind.Lookup(g, batch.SequenceKinds)), _age.Lookup(g, batch.SequenceAges));
        var sequence = g.Reshape(g.Gather(g.Reshape(tokens, new Shape(batch.Requests, t * e)), batch.RequestOf), new Shape(n, t, e));
        var mask = SequenceMask(g, batch, 0);
        var extendedMask = SequenceMask(g, batch, Settings.SummaryTokens);
        foreach (var layer in _layers)
        {
            (x, sequence) = layer.Forward(g, x, sequence, mask, extendedMask);
        }

        var summary = _summary.Forward(g, sequence, mask);
        return g.Concat(x, summary);
    }

    // (N, lead + T): `lead` leading ones (summary tokens, always attendable), then the candidate's request's sequence mask.
    private static Tensor SequenceMask(Graph g, RankingBatch batch, int lead)
    {
        const int T = FeatureSpace.SequenceLength;
        var mask = g.Input(new Shape(batch.Candidates, lead + T));
        var span = mask.Span;
        for (var i = 0; i < batch.Candidates; i++)
        {
            var row = span.Slice(i * (lead + T), lead + T);
            row[..lead].Fill(1f);
            batch.SequenceMask.AsSpan(batch.RequestOf[i] * T, T).CopyTo(row[lead..]);
        }

        return mask;
    }
}

/// <summary>One InterFormer layer: sequence → features, then features → sequence.</summary>
internal sealed class InterFormerLayer : Module
{
    private readonly InterFormerConfig _config;
    private readonly int _fields;
    private readonly AttentionPooling _sequenceSummary;
    private readonly TransformerBlock _interaction;
    private readonly Linear _featureSummary;
    private readonly TransformerBlock _sequence;

    public InterFormerLayer(string name, InterFormerConfig config, int fields, Random rng)
        : base(name)
    {
        _config = config;
        _fields = fields;
        var e = config.Width;
        _sequenceSummary = AddModule(new AttentionPooling($"{name}.sequenceSummary", e, config.SummaryTokens, config.Heads, rng));
        _interaction = AddModule(new TransformerBlock($"{name}.interaction", e, config.Heads, 2 * e, rng));
        _featureSummary = AddModule(new Linear($"{name}.featureSummary", fields * e, config.SummaryTokens * e, rng));
        _sequence = AddModule(new TransformerBlock($"{name}.sequence", e, config.Heads, 2 * e, rng));
    }

    public long Flops(long pooling)
    {
        int e = _config.Width, s = _config.SummaryTokens, f = _fields, t = FeatureSpace.SequenceLength;
        return pooling + TransformerBlock.Flops(f + s, e, 2 * e) + NetworkCost.Dense(f * e, s * e) + TransformerBlock.Flops(s + t, e, 2 * e);
    }

    /// <summary>x: (N, F·E), sequence: (N, T, E) -> both updated.</summary>
    public (Tensor Fields, Tensor Sequence) Forward(Graph g, Tensor x, Tensor sequence, Tensor mask, Tensor extendedMask)
    {
        int n = x.Shape[0], e = _config.Width, s = _config.SummaryTokens, f = _fields, t = FeatureSpace.SequenceLength;

        // Sequence -> features: fields attend together with the sequence's summary tokens; the field tokens are kept.
        var summary = _sequenceSummary.Forward(g, sequence, mask); // (N, S·E)
        var joint = _interaction.Forward(g, g.Reshape(g.Concat(x, summary), new Shape(n, f + s, e)), null);
        var fields = g.Slice(g.Reshape(joint, new Shape(n, (f + s) * e)), 0, f * e);

        // Features -> sequence: the updated fields, compressed to S tokens, lead the sequence through attention.
        var lead = _featureSummary.Forward(g, fields); // (N, S·E)
        var tokens = g.Concat(lead, g.Reshape(sequence, new Shape(n, t * e)));
        var updated = _sequence.Forward(g, g.Reshape(tokens, new Shape(n, s + t, e)), extendedMask);
        var next = g.Reshape(g.Slice(g.Reshape(updated, new Shape(n, (s + t) * e)), s * e, t * e), new Shape(n, t, e));
        return (fields, next);
    }
}

/// <summary>Self-attention then a token-wise FFN, each with a residual and a layer norm (post-norm).</summary>
internal sealed class TransformerBlock : Module
{
    private readonly MultiHeadSelfAttention _attention;
    private readonly LayerNorm _norm1;
    private readonly Mlp _ffn;
    private readonly LayerNorm _norm2;

    public TransformerBlock(string name, int dim, int heads, int hidden, Random rng)
        : base(name)
    {
        _attention = AddModule(new MultiHeadSelfAttention($"{name}.attention", dim, heads, rng));
        _norm1 = AddModule(new LayerNorm($"{name}.norm1", dim));
        _ffn = AddModule(new Mlp($"{name}.ffn", [dim, hidden, dim], rng, Activation.Gelu));
        _norm2 = AddModule(new LayerNorm($"{name}.norm2", dim));
    }

    public static long Flops(int tokens, int dim, int hidden) =>
        NetworkCost.SelfAttention(tokens, dim) + (tokens * (NetworkCost.Dense(dim, hidden) + NetworkCost.Dense(hidden, dim)));

    /// <summary>x: (N, T, dim), mask (N, T) or null -> (N, T, dim).</summary>
    public Tensor Forward(Graph g, Tensor x, Tensor? mask)
    {
        var h = _norm1.Forward(g, g.Add(x, _attention.Forward(g, x, mask)));
        return _norm2.Forward(g, g.Add(h, _ffn.Forward(g, h)));
    }
}
