using System.Text.Json.Nodes;
using Mesh.Learning;
using Mesh.Learning.Checkpoints;
using Mesh.Models.Distillation;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models.Foundation;

/// <summary>
/// One published version of the foundation model: its own user tower and a <see cref="FoundationNetwork"/>, saved as
/// a checkpoint of its own architecture (<see cref="Architecture"/>) and version, apart from the ranking model. It
/// replaces the fixed random projection <see cref="FoundationModel.Represent"/>. The tower reads the requests'
/// behaviour sequences (a request without one gets the no-history embedding, zeros), never a served user embedding,
/// so a representation depends only on what the request says. A loaded instance is only read: any number of threads
/// may predict with it.
/// </summary>
public sealed class LearnedFoundationModel : IFoundationTeacher
{
    /// <summary>The architecture name in the checkpoint header.</summary>
    public const string Architecture = "mesh-foundation";

    private LearnedFoundationModel(UserTower userTower, FoundationNetwork network, long version, long trainedExamples, IReadOnlyDictionary<string, double> metrics)
    {
        UserTower = userTower;
        Network = network;
        Version = version;
        TrainedExamples = trainedExamples;
        Metrics = metrics;
    }

    public UserTower UserTower { get; }

    public FoundationNetwork Network { get; }

    /// <summary>The published version; 0 untrained.</summary>
    public long Version { get; }

    public long TrainedExamples { get; }

    /// <summary>What the trainer measured when it published this version.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; }

    public IEnumerable<Parameter> Parameters => UserTower.Parameters.Concat(Network.Parameters);

    /// <summary>Version 0, untrained (predicting <see cref="Priors.ClickRate"/>), of <paramref name="config"/> (default <see cref="FoundationConfig.Default"/>).</summary>
    public static LearnedFoundationModel CreateInitial(int seed = 1, FoundationConfig? config = null, FeatureSchema? features = null)
    {
        var rng = new Random(seed);
        var network = new FoundationNetwork("fm", config ?? FoundationConfig.Default, rng, features: features);
        return new LearnedFoundationModel(new UserTower("fm.user", rng), network, 0, 0, new Dictionary<string, double>());
    }

    /// <summary>A trainer of this model's tower and network on clicks, continuing from its weights (what the trainer runs on every labelled impression).</summary>
    public RankingTrainer Trainer(TrainingSettings? settings = null) => new(UserTower, [Network], settings);

    /// <summary>Encodes requests for this model (its configured features; labels when given).</summary>
    public RankingBatch Encode(IReadOnlyList<RankingInput> requests, ReadOnlySpan<float> labels = default) =>
        RankingBatch.Create(requests, labels, Network.Features);

    /// <summary>ŷ_F of every candidate, in order, on the calling thread's inference graph.</summary>
    public void Predict(IReadOnlyList<RankingInput> requests, Span<float> probabilities)
    {
        var batch = Encode(requests);
        if (probabilities.Length != batch.Candidates)
        {
            throw new ArgumentException($"{probabilities.Length} outputs for {batch.Candidates} candidates", nameof(probabilities));
        }

        var g = Graph.ForInference();
        var logits = Network.Forward(g, batch, UserTower.Forward(g, batch))[0];
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(logits.Span, probabilities);
    }

    /// <summary>ŷ_F (N) and e_FM (N rows of <see cref="FeatureSpace.PrecomputedDimension"/>) of every candidate, in order.</summary>
    public FoundationOutputs Represent(IReadOnlyList<RankingInput> requests)
    {
        var batch = Encode(requests);
        var g = Graph.ForInference();
        var (logits, representations) = Network.Represent(g, batch, UserTower.Forward(g, batch));
        var probabilities = new float[batch.Candidates];
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(logits.Span, probabilities);
        var vectors = new float[batch.Candidates][];
        for (var i = 0; i < vectors.Length; i++)
        {
            vectors[i] = representations.Row(i).ToArray();
        }

        return new FoundationOutputs(probabilities, vectors, Version);
    }

    /// <summary>The model as a checkpoint: architecture <see cref="Architecture"/>, version, the network's config and features.</summary>
    public byte[] ToCheckpoint(long version, long trainedExamples, IReadOnlyDictionary<string, double>? metrics = null)
    {
        var config = new JsonObject
        {
            ["version"] = version,
            ["userTower"] = UserTower.Config,
            ["network"] = new JsonObject { ["architecture"] = Network.Architecture, ["config"] = Network.Config },
        };
        if (!Network.Features.IsEmpty)
        {
            config["features"] = Network.Features.ToJson();
        }

        var info = new CheckpointInfo
        {
            Architecture = Architecture,
            Step = trainedExamples,
            Config = config,
            Metrics = metrics ?? new Dictionary<string, double>(),
        };
        return Checkpoint.ToBytes(info, Parameters);
    }

    /// <summary>Rebuilds the model a checkpoint describes; a corrupt, mismatched or other architecture's checkpoint throws <see cref="CheckpointException"/>.</summary>
    public static LearnedFoundationModel FromCheckpoint(byte[] checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var contents = Checkpoint.Read(checkpoint);
        if (contents.Info.Architecture != Architecture || contents.Info.Config?["network"] is not JsonObject network)
        {
            throw new CheckpointException($"checkpoint is '{contents.Info.Architecture}', expected '{Architecture}' with a network");
        }

        if ((string?)network["architecture"] != "foundation-dhen" || network["config"] is not JsonObject config)
        {
            throw new CheckpointException($"unknown foundation network architecture '{network["architecture"]}'");
        }

        var rng = new Random(0); // weights are overwritten by the load
        var features = FeatureSchema.FromJson(contents.Info.Config["features"]);
        var model = new LearnedFoundationModel(
            new UserTower("fm.user", rng),
            new FoundationNetwork("fm", FoundationConfig.FromJson(config), rng, features: features),
            (long)contents.Info.Config["version"]!,
            contents.Info.Step,
            contents.Info.Metrics);
        Checkpoint.Load(contents, Architecture, model.Parameters.Select(p => (p.Name, p.Value)));
        return model;
    }
}

/// <summary>The foundation model's outputs for N candidates: ŷ_F, e_FM and the version that computed them.</summary>
public sealed record FoundationOutputs(float[] Probabilities, float[][] Representations, long Version);
