using Mesh.Learning;
using Mesh.Learning.Optim;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models;

/// <summary>Learning rates and clipping of a <see cref="RankingTrainer"/>.</summary>
public sealed record TrainingSettings
{
    /// <summary>
    /// Adam's step for dense weights. Default 3e-4: in one pass over a million impressions of the synthetic world
    /// (bench/run.sh quality), DHEN large closed 1.4 points more of the NE gap than at 1e-3, DHEN small 0.7.
    /// </summary>
    public float DenseLearningRate { get; init; } = 3e-4f;

    /// <summary>
    /// Row-wise Adagrad's step for embedding tables. Default 0.3: the id embeddings carry what is particular to each
    /// user and ad, and at 0.05 they learned too slowly for one pass (same benchmark, 0.3 against 0.05: DHEN small
    /// closed 1.4 points more of the NE gap, logistic regression 6).
    /// </summary>
    public float SparseLearningRate { get; init; } = 0.3f;

    /// <summary>Global gradient-norm bound on the dense weights. Default 10.</summary>
    public double ClipNorm { get; init; } = 10;

    /// <summary>
    /// Threads per forward GEMM (<see cref="Graph.GemmThreads"/>); 0 is all cores. Default 0. The backward products run
    /// on <see cref="Mesh.Learning.Kernels.Gemm.MaxThreads"/> whatever this says.
    /// </summary>
    public int GemmThreads { get; init; }
}

/// <summary>
/// Trains a user tower and one or more networks together, one pass over a stream of batches in time order. The user
/// tower runs once per request and feeds every network; the loss is the sum of every head's log loss. Each step first
/// predicts (that prediction is the progressive-validation score: the batch is still unseen), then learns from the batch.
/// Not thread-safe: one caller at a time.
/// </summary>
public sealed class RankingTrainer
{
    private readonly UserTower _tower;
    private readonly IReadOnlyList<RankingNetwork> _networks;
    private readonly TrainingSettings _settings;
    private readonly Adam _dense;
    private readonly RowwiseAdagrad _sparse;
    private readonly Learning.Parameter[] _denseParameters;
    private readonly Graph _graph = new(training: true);

    public RankingTrainer(UserTower tower, IReadOnlyList<RankingNetwork> networks, TrainingSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(tower);
        ArgumentNullException.ThrowIfNull(networks);
        _tower = tower;
        _networks = networks;
        _settings = settings ?? new TrainingSettings();
        var all = tower.Parameters.Concat(networks.SelectMany(n => n.Parameters)).ToArray();
        _denseParameters = [.. all.Where(p => !p.IsSparse)];
        _dense = new Adam(_denseParameters, _settings.DenseLearningRate);
        _sparse = new RowwiseAdagrad(all.Where(p => p.IsSparse), _settings.SparseLearningRate);
        _graph.GemmThreads = _settings.GemmThreads;
    }

    /// <summary>A trainer over a model's own tower and tiers, continuing from its weights.</summary>
    public static RankingTrainer For(RankingModel model, TrainingSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new RankingTrainer(model.UserTower, [.. model.Tiers.Values], settings);
    }

    /// <summary>Labelled candidates trained on so far.</summary>
    public long Examples { get; private set; }

    /// <summary>
    /// Predicts the batch (final head of each network, in constructor order: probabilities (N) each), then takes one
    /// optimizer step on it. Returns the predictions made before the step.
    /// </summary>
    public float[][] Step(RankingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var g = _graph;
        g.Reset();
        var user = _tower.Forward(g, batch);
        var labels = g.Input(batch.Labels, new Shape(batch.Candidates));
        var predictions = new float[_networks.Count][];
        Learning.Tensor? loss = null;
        for (var i = 0; i < _networks.Count; i++)
        {
            var heads = _networks[i].Forward(g, batch, user);
            predictions[i] = new float[batch.Candidates];
            System.Numerics.Tensors.TensorPrimitives.Sigmoid(heads[^1].Span, predictions[i]);
            foreach (var head in heads)
            {
                var headLoss = g.BceWithLogits(head, labels);
                loss = loss is null ? headLoss : g.Add(loss, headLoss);
            }
        }

        if (loss is not null && batch.Candidates > 0)
        {
            _dense.ZeroGrad();
            g.Backward(loss);
            GradientClipping.ClipGlobalNorm(_denseParameters, _settings.ClipNorm);
            _dense.Step();
            _sparse.Step();
        }

        g.Reset();
        Examples += batch.Candidates;
        return predictions;
    }
}
