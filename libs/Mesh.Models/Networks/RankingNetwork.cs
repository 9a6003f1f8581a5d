using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>
/// A click model over a <see cref="RankingBatch"/>. The user side (R rows) is computed once per request and broadcast to
/// the request's candidates; the candidate side (N rows) is what grows with the candidate count. A network reads the
/// configured features of its <see cref="Features"/>: a batch must be encoded with that schema.
/// </summary>
public abstract class RankingNetwork(string name, FeatureSchema? features = null) : Module(name)
{
    /// <summary>The configured features the network reads beyond the built-in ones (none by default).</summary>
    public FeatureSchema Features { get; } = features ?? FeatureSchema.Empty;

    /// <summary>The architecture's name in checkpoints: <c>dhen</c>, <c>interformer</c>, <c>logistic</c>.</summary>
    public abstract string Architecture { get; }

    /// <summary>Multiply-adds times two of one forward pass, split into the per-request and the per-candidate part.</summary>
    public abstract NetworkCost Cost { get; }

    /// <summary>The shape settings that rebuild this network (stored in checkpoints).</summary>
    public abstract JsonObject Config { get; }

    /// <summary>
    /// Logits (N) of every prediction head, the final head last. <paramref name="user"/> is the user embedding (R,
    /// <see cref="FeatureSpace.UserEmbeddingDimension"/>): the user tower's output in training, the served one in serving.
    /// </summary>
    public abstract IReadOnlyList<Tensor> Forward(Graph g, RankingBatch batch, Tensor user);

    /// <summary>
    /// Auxiliary distillation heads on the shared backbone (ExFM): trained on a teacher's targets, never served (not in
    /// <see cref="Forward"/>, <see cref="Score"/> or the ONNX export). 0 by default and for networks without them.
    /// </summary>
    public virtual int DistillationHeads => 0;

    /// <summary>
    /// <see cref="Forward"/>'s heads (<see cref="NetworkOutputs.Serving"/>, the same logits) and the logits (N) of every
    /// distillation head (<see cref="NetworkOutputs.Distillation"/>). The distillation heads read the backbone through
    /// <see cref="Graph.ScaleGradient"/> by <paramref name="backboneGradient"/> (ExFM's β): identity forward, their
    /// gradient times β into the shared layers, their own weights' gradient unscaled. The default has no distillation
    /// head.
    /// </summary>
    public virtual NetworkOutputs ForwardWithDistillation(Graph g, RankingBatch batch, Tensor user, float backboneGradient) =>
        new(Forward(g, batch, user), []);

    /// <summary>
    /// The bias of every prediction head (the final one and any exit heads): each adds straight to its head's logit, so
    /// adding a constant to them shifts every prediction's logit by it (<see cref="ShiftOutputs"/>). Empty for a
    /// network without such a bias.
    /// </summary>
    public virtual IEnumerable<Parameter> OutputBiases => [];

    /// <summary>
    /// Adds <paramref name="logit"/> to every head's bias (<see cref="OutputBiases"/>): the whole network's predictions
    /// move by that much on the logit scale, their ranking unchanged. The trainer's cold start calibrates with it.
    /// </summary>
    public void ShiftOutputs(float logit)
    {
        foreach (var bias in OutputBiases)
        {
            var span = bias.Value.Span;
            System.Numerics.Tensors.TensorPrimitives.Add(span, logit, span);
        }
    }

    /// <summary>Final-head click probabilities into <paramref name="scores"/> (N), on the calling thread's inference graph.</summary>
    public virtual void Score(RankingBatch batch, Tensor user, Span<float> scores, Graph g)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(g);
        var heads = Forward(g, batch, user);
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(heads[^1].Span, scores);
    }
}

/// <summary>A training forward pass's logits (N each): the serving and exit heads (final last), then the distillation heads.</summary>
public sealed record NetworkOutputs(IReadOnlyList<Tensor> Serving, IReadOnlyList<Tensor> Distillation);

/// <summary>FLOPs (2 per multiply-add) of one forward pass: once per request, and once per candidate.</summary>
public readonly record struct NetworkCost(long FlopsPerCandidate, long FlopsPerRequest)
{
    /// <summary>2·in·out: one dense layer on one row.</summary>
    public static long Dense(int inFeatures, int outFeatures) => 2L * inFeatures * outFeatures;

    /// <summary>Self-attention over <paramref name="tokens"/> tokens of <paramref name="dim"/>: four projections plus scores and weighted sums.</summary>
    public static long SelfAttention(int tokens, int dim) => (4 * tokens * Dense(dim, dim)) + (2 * 2L * tokens * tokens * dim);

    public static NetworkCost operator +(NetworkCost a, NetworkCost b) =>
        new(a.FlopsPerCandidate + b.FlopsPerCandidate, a.FlopsPerRequest + b.FlopsPerRequest);
}
