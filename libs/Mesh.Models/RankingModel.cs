using System.Text.Json.Nodes;
using Mesh.Contracts;
using Mesh.Learning;
using Mesh.Learning.Checkpoints;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models;

/// <summary>
/// One published version of the ranking model: the user tower (which user-model runs) and one network per tier (which
/// the ranker runs). A loaded instance is only read, so any number of threads may score with it while a newer version
/// loads beside it. The model carries its <see cref="Features"/>: the configured features its tiers read, written into
/// its checkpoints, so a version encodes what it was trained with whatever the configuration says later.
/// </summary>
public sealed class RankingModel
{
    /// <summary>The architecture name in the checkpoint header.</summary>
    public const string Architecture = "mesh-ranking";

    private RankingModel(UserTower userTower, IReadOnlyDictionary<string, RankingNetwork> tiers, long version, long trainedExamples, IReadOnlyDictionary<string, double> metrics, FeatureSchema features)
    {
        Features = features;
        UserTower = userTower;
        Tiers = tiers;
        Version = version;
        TrainedExamples = trainedExamples;
        Metrics = metrics;
    }

    public UserTower UserTower { get; }

    /// <summary>
    /// The configured features every tier reads (context ones per request, candidate ones per ad); the user tower reads
    /// user events only. <see cref="FeatureSchema.Empty"/> for a model without configured features.
    /// </summary>
    public FeatureSchema Features { get; }

    public IReadOnlyDictionary<string, RankingNetwork> Tiers { get; }

    public long Version { get; }

    public long TrainedExamples { get; }

    /// <summary>What the trainer measured when it published this version (for example <c>validationNe</c>).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; }

    public IEnumerable<Mesh.Learning.Parameter> Parameters => UserTower.Parameters.Concat(Tiers.Values.SelectMany(t => t.Parameters));

    /// <summary>
    /// Version 0, untrained: the mesh's tiers (DHEN small and large), seeded, predicting <see cref="Priors.ClickRate"/>
    /// for everything. What serves before the trainer has published, and where the trainer starts. Its tiers read
    /// <paramref name="features"/> (the configured feature space; none by default) and carry
    /// <paramref name="distillationHeads"/> auxiliary distillation heads each (ExFM; default 0, never served; they are
    /// drawn from their own generator, so a seed gives the same served tiers with or without them).
    /// </summary>
    public static RankingModel CreateInitial(int seed = 1, FeatureSchema? features = null, int distillationHeads = 0)
    {
        features ??= FeatureSchema.Empty;
        var rng = new Random(seed);
        var tiers = new Dictionary<string, RankingNetwork>
        {
            [Contracts.Tiers.Small] = new Dhen(Contracts.Tiers.Small, DhenConfig.Small with { DistillationHeads = distillationHeads }, rng, features: features),
            [Contracts.Tiers.Large] = new Dhen(Contracts.Tiers.Large, DhenConfig.Large with { DistillationHeads = distillationHeads }, rng, features: features),
        };
        return new RankingModel(new UserTower("user", rng), tiers, 0, 0, new Dictionary<string, double>(), features);
    }

    /// <summary>
    /// A model of the given tower and tiers (tests and benchmarks that build their own networks); every tier must read
    /// the same features, which become the model's.
    /// </summary>
    public static RankingModel Create(UserTower userTower, IReadOnlyDictionary<string, RankingNetwork> tiers, long version = 0, long trainedExamples = 0)
    {
        ArgumentNullException.ThrowIfNull(userTower);
        ArgumentNullException.ThrowIfNull(tiers);
        var features = tiers.Values.FirstOrDefault()?.Features ?? FeatureSchema.Empty;
        if (tiers.Values.Any(t => !t.Features.Equals(features)))
        {
            throw new ArgumentException("every tier must read the same configured features", nameof(tiers));
        }

        return new RankingModel(userTower, tiers, version, trainedExamples, new Dictionary<string, double>(), features);
    }

    /// <summary>Encodes requests for this model: its configured features, and labels when given (training).</summary>
    public RankingBatch Encode(IReadOnlyList<RankingInput> requests, ReadOnlySpan<float> labels = default) =>
        RankingBatch.Create(requests, labels, Features);

    public RankingNetwork Tier(string name) =>
        Tiers.TryGetValue(name, out var tier) ? tier : throw new ArgumentException($"Unknown tier '{name}'.", nameof(name));

    /// <summary>The user tower's embedding of a user's recent events, as of <paramref name="at"/>; zeros for no events.</summary>
    public float[] EmbedUser(string userId, IReadOnlyList<RecentEvent> recent, DateTimeOffset at)
    {
        var batch = RankingBatch.Create([new RankingInput { UserId = userId, Context = new RankContext(), At = at, Recent = recent, Ads = [] }]);
        var g = Graph.ForInference();
        return UserTower.Forward(g, batch).ToArray();
    }

    /// <summary>
    /// Click probabilities of <paramref name="request"/>'s candidates by <paramref name="tier"/>. With an
    /// <paramref name="exit"/> rule, a DHEN tier stops hopeless candidates early (see <see cref="EarlyExitRule"/>).
    /// Uses the request's served embedding, or computes it with the user tower when there is none.
    /// </summary>
    public TierScores Score(string tier, RankingInput request, EarlyExitRule? exit = null, int gemmThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(request);
        var network = Tier(tier);
        var batch = Encode([request]);
        var g = Graph.ForInference();
        g.GemmThreads = gemmThreads;
        var user = UserEmbeddings(g, batch);
        var scores = new float[batch.Candidates];
        var layers = 1L * batch.Candidates * (network is Dhen d ? d.Depth : 1);
        if (exit is { } rule && network is Dhen dhen)
        {
            layers = dhen.ScoreWithEarlyExit(g, batch, user, rule, scores);
        }
        else
        {
            network.Score(batch, user, scores, g);
        }

        return new TierScores(scores, layers);
    }

    /// <summary>The user embeddings (R, dim) of a batch: the served ones when every request has one, else the tower's.</summary>
    public Tensor UserEmbeddings(Graph g, RankingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        return batch.UsesServedEmbeddings
            ? g.Input(batch.ServedEmbeddings, new Shape(batch.Requests, FeatureSpace.UserEmbeddingDimension))
            : UserTower.Forward(g, batch);
    }

    /// <summary>
    /// The model as a checkpoint (see <see cref="Checkpoint"/>): architecture, tiers, metrics and, when there are any,
    /// the configured features (<c>config.features</c>) in the header.
    /// </summary>
    public byte[] ToCheckpoint(long version, long trainedExamples, IReadOnlyDictionary<string, double>? metrics = null)
    {
        var tiers = new JsonObject();
        foreach (var (name, network) in Tiers)
        {
            tiers[name] = new JsonObject { ["architecture"] = network.Architecture, ["config"] = network.Config };
        }

        var info = new CheckpointInfo
        {
            Architecture = Architecture,
            Step = trainedExamples,
            Config = Features.IsEmpty
                ? new JsonObject { ["version"] = version, ["userTower"] = UserTower.Config, ["tiers"] = tiers }
                : new JsonObject { ["version"] = version, ["userTower"] = UserTower.Config, ["tiers"] = tiers, ["features"] = Features.ToJson() },
            Metrics = metrics ?? new Dictionary<string, double>(),
        };
        return Checkpoint.ToBytes(info, Parameters);
    }

    /// <summary>Rebuilds the architecture the header names and loads its tensors (one read, one checksum); a corrupt or mismatched checkpoint throws <see cref="CheckpointException"/>.</summary>
    public static RankingModel FromCheckpoint(byte[] checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var contents = Checkpoint.Read(checkpoint);
        if (contents.Info.Architecture != Architecture || contents.Info.Config?["tiers"] is not JsonObject tierConfigs)
        {
            throw new CheckpointException($"checkpoint is '{contents.Info.Architecture}', expected '{Architecture}' with tiers");
        }

        var rng = new Random(0); // weights are overwritten by the load
        var features = FeatureSchema.FromJson(contents.Info.Config["features"]); // absent: a model from before configured features
        var tiers = new Dictionary<string, RankingNetwork>();
        foreach (var (name, node) in tierConfigs)
        {
            tiers[name] = NetworkFactory.Create(name, (string)node!["architecture"]!, node["config"]!.AsObject(), rng, features);
        }

        var model = new RankingModel(new UserTower("user", rng), tiers, (long)contents.Info.Config["version"]!, contents.Info.Step, contents.Info.Metrics, features);
        Checkpoint.Load(contents, Architecture, model.Parameters.Select(p => (p.Name, p.Value)));
        return model;
    }

    /// <summary>The same weights under another version (deep copy through the checkpoint format).</summary>
    public RankingModel WithVersion(long version, long trainedExamples, IReadOnlyDictionary<string, double>? metrics = null) =>
        FromCheckpoint(ToCheckpoint(version, trainedExamples, metrics));
}

/// <summary>Scores of one request's candidates, and the candidate-layers computed (the early-exit compute measure).</summary>
public sealed record TierScores(float[] Scores, long CandidateLayers);

/// <summary>Builds a network from its checkpoint description.</summary>
public static class NetworkFactory
{
    public static RankingNetwork Create(string name, string architecture, JsonObject config, Random rng, FeatureSchema? features = null) => architecture switch
    {
        "dhen" => new Dhen(name, DhenConfig.FromJson(config), rng, features: features),
        "interformer" => new InterFormer(name, InterFormerConfig.FromJson(config), rng, features: features),
        "logistic" => new LogisticRegression(name, rng, features: features),
        _ => throw new CheckpointException($"unknown network architecture '{architecture}' for tier '{name}'"),
    };
}
