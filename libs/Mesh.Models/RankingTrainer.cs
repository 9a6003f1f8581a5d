using Mesh.Learning;
using Mesh.Learning.Optim;
using Mesh.Models.Distillation;
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
/// With <see cref="ExfmOptions"/> and a teacher's predictions (<see cref="Step(RankingBatch, ReadOnlySpan{float})"/>),
/// each network also learns from the foundation model (ExFM; the loss per <see cref="DistillationMode"/>).
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
        : this(tower, networks, settings, null)
    {
    }

    /// <param name="tower">The user tower, trained with the networks.</param>
    /// <param name="networks">The students.</param>
    /// <param name="settings">Learning rates and clipping (defaults when null).</param>
    /// <param name="distillation">
    /// ExFM settings; null or <see cref="DistillationMode.None"/> trains on clicks only. The auxiliary-head modes need
    /// every network to have a distillation head (<see cref="RankingNetwork.DistillationHeads"/>).
    /// </param>
    public RankingTrainer(UserTower tower, IReadOnlyList<RankingNetwork> networks, TrainingSettings? settings, ExfmOptions? distillation)
    {
        ArgumentNullException.ThrowIfNull(tower);
        ArgumentNullException.ThrowIfNull(networks);
        _tower = tower;
        _networks = networks;
        _settings = settings ?? new TrainingSettings();
        Distillation = distillation ?? new ExfmOptions();
        if (Distillation.UsesAuxiliaryHeads && networks.FirstOrDefault(n => n.DistillationHeads == 0) is { } without)
        {
            throw new ArgumentException($"{Distillation.Mode} needs a distillation head on every network; '{without.Name}' has none", nameof(distillation));
        }

        if (Distillation.Mode == DistillationMode.AuxiliaryHeadWithAdapter)
        {
            // Seeded: the adapter's last layer starts at zero, so the seed only shapes how its hidden layer learns.
            Adapter = new StudentAdapter("adapter", Distillation.AdapterHidden, Distillation.AdapterLearningRate, new Random(1));
        }

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

    /// <summary>A trainer over a model's own tower and tiers, continuing from its weights, distilling per <paramref name="distillation"/>.</summary>
    public static RankingTrainer For(RankingModel model, TrainingSettings? settings, ExfmOptions? distillation)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new RankingTrainer(model.UserTower, [.. model.Tiers.Values], settings, distillation);
    }

    /// <summary>Labelled candidates trained on so far.</summary>
    public long Examples { get; private set; }

    /// <summary>The ExFM settings (mode <see cref="DistillationMode.None"/> when none were given).</summary>
    public ExfmOptions Distillation { get; }

    /// <summary>The student adapter, in <see cref="DistillationMode.AuxiliaryHeadWithAdapter"/> only; updated before the students each step.</summary>
    public StudentAdapter? Adapter { get; }

    /// <summary>The total loss of the last step, before its update (every network's every term, summed); 0 before the first.</summary>
    public double LastLoss { get; private set; }

    /// <summary>
    /// Predicts the batch (final head of each network, in constructor order: probabilities (N) each), then takes one
    /// optimizer step on it. Returns the predictions made before the step.
    /// </summary>
    public float[][] Step(RankingBatch batch) => Step(batch, default);

    /// <summary>
    /// <see cref="Step(RankingBatch)"/> with the foundation model's click probabilities ŷ_F of the batch's candidates
    /// (<paramref name="teacher"/>, N, from <see cref="DataAugmentation"/>; NaN where the teacher has none, and such a
    /// row trains on its click only). Per <see cref="Distillation"/>'s mode, every network adds
    /// w·h(ŷ, min(1, α·ŷ_F)) on its serving head (KD) or its first distillation head (AH); with the adapter, the
    /// adapter first takes its step on the batch's clicks, then its stop-gradient prediction sg(σ(ŷ_SA)) is the target
    /// of w_SA·h(ŷ_D′, ·) on the second distillation head (the first when there is one). An empty
    /// <paramref name="teacher"/> or mode <see cref="DistillationMode.None"/> is exactly <see cref="Step(RankingBatch)"/>.
    /// </summary>
    public float[][] Step(RankingBatch batch, ReadOnlySpan<float> teacher)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var distill = Distillation.Mode != DistillationMode.None && !teacher.IsEmpty;
        if (distill && teacher.Length != batch.Candidates)
        {
            throw new ArgumentException($"{teacher.Length} teacher predictions for {batch.Candidates} candidates", nameof(teacher));
        }

        var g = _graph;
        g.Reset();
        var user = _tower.Forward(g, batch);
        var labels = g.Input(batch.Labels, new Shape(batch.Candidates));
        var targets = distill ? Targets(g, batch, teacher) : default;
        var predictions = new float[_networks.Count][];
        Learning.Tensor? loss = null;
        for (var i = 0; i < _networks.Count; i++)
        {
            var outputs = distill && Distillation.UsesAuxiliaryHeads
                ? _networks[i].ForwardWithDistillation(g, batch, user, Distillation.BackboneGradient)
                : new NetworkOutputs(_networks[i].Forward(g, batch, user), []);
            var heads = outputs.Serving;
            predictions[i] = new float[batch.Candidates];
            System.Numerics.Tensors.TensorPrimitives.Sigmoid(heads[^1].Span, predictions[i]);
            foreach (var head in heads)
            {
                var headLoss = g.BceWithLogits(head, labels);
                loss = loss is null ? headLoss : g.Add(loss, headLoss);
            }

            if (distill)
            {
                loss = g.Add(loss!, DistillationLoss(g, outputs, targets));
            }
        }

        LastLoss = loss is null ? 0 : loss[0];
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

    // The distillation targets of a batch: the teacher's min(1, α·ŷ_F), the adapter's sg(σ(ŷ_SA)) (after its step),
    // and the row weights (1 with a teacher prediction, 0 without), all (N) inputs without gradient.
    private DistillationTargets Targets(Graph g, RankingBatch batch, ReadOnlySpan<float> teacher)
    {
        var n = batch.Candidates;
        var fm = g.Input(new Shape(n));
        var weights = g.Input(new Shape(n));
        for (var i = 0; i < n; i++)
        {
            if (!float.IsNaN(teacher[i]))
            {
                fm[i] = Distillation.Target(teacher[i]);
                weights[i] = 1f;
            }
        }

        Learning.Tensor? adapted = null;
        if (Adapter is not null)
        {
            // ExFM's order: the adapter learns from the fresh clicks first; its prediction is then a constant target.
            Adapter.Step(teacher, batch.Labels);
            var values = new float[n];
            Adapter.Predict(teacher, values);
            adapted = g.Input(new Shape(n));
            for (var i = 0; i < n; i++)
            {
                adapted[i] = float.IsNaN(values[i]) ? 0f : values[i];
            }
        }

        return new DistillationTargets(fm, weights, adapted);
    }

    private Learning.Tensor DistillationLoss(Graph g, NetworkOutputs outputs, DistillationTargets targets)
    {
        var options = Distillation;
        var student = options.Mode == DistillationMode.ServingHead ? outputs.Serving[^1] : outputs.Distillation[0];
        var loss = g.Scale(g.BceWithLogits(student, targets.Teacher, targets.Weights), options.Weight);
        if (targets.Adapted is { } adapted)
        {
            var head = outputs.Distillation[Math.Min(1, outputs.Distillation.Count - 1)];
            loss = g.Add(loss, g.Scale(g.BceWithLogits(head, adapted, targets.Weights), options.AdapterWeight));
        }

        return loss;
    }

    private readonly record struct DistillationTargets(Learning.Tensor Teacher, Learning.Tensor Weights, Learning.Tensor? Adapted);
}
