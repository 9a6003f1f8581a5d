using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Serving.Inference;

/// <summary>
/// One version of the ranking model on ONNX Runtime, on one <see cref="ExecutionTarget"/>: a session per graph (the
/// user tower, each tier), built and warmed before anyone can call it. Sessions take concurrent runs, so any number of
/// threads may score with one instance; <see cref="ServingModel"/> disposes it once the last of them is done.
/// </summary>
public sealed class OnnxRankingModel : IDisposable
{
    private readonly Dictionary<string, InferenceSession> _sessions;
    private readonly Dictionary<string, int> _heads;

    private OnnxRankingModel(long version, ExecutionTarget target, Dictionary<string, InferenceSession> sessions)
    {
        Version = version;
        Target = target;
        _sessions = sessions;
        _heads = sessions.Where(s => s.Key != OnnxNames.UserTower)
            .ToDictionary(s => s.Key, s => s.Value.OutputMetadata[OnnxNames.Logits].Dimensions[1], StringComparer.Ordinal);
        var schemas = sessions.Where(s => s.Key != OnnxNames.UserTower)
            .Select(s => FeatureSchema.Parse(s.Value.ModelMetadata.CustomMetadataMap.GetValueOrDefault(OnnxNames.FeaturesMetadata)))
            .Distinct()
            .ToList();
        Features = schemas.Count switch
        {
            0 => FeatureSchema.Empty,
            1 => schemas[0],
            _ => throw new ModelRefusedException($"version {version}: its tiers read different features ({string.Join("; ", schemas)})"),
        };
    }

    public long Version { get; }

    /// <summary>The configured features the tiers read (their graphs' <c>mesh.features</c>): what <see cref="Encode"/> encodes.</summary>
    public FeatureSchema Features { get; }

    public ExecutionTarget Target { get; }

    /// <summary>The graphs this instance runs: <see cref="OnnxNames.UserTower"/> and tier names.</summary>
    public IReadOnlyCollection<string> Graphs => _sessions.Keys;

    /// <summary>
    /// Builds a session per graph on <paramref name="target"/> and warms each with one run. Throws
    /// <see cref="ModelRefusedException"/> (with the reason) when a graph does not load, does not run, or gives a
    /// non-finite output; nothing is left allocated then.
    /// </summary>
    public static OnnxRankingModel Load(long version, IReadOnlyDictionary<string, byte[]> graphs, ExecutionTarget target, int intraOpThreads)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        var sessions = new Dictionary<string, InferenceSession>(StringComparer.Ordinal);
        try
        {
            foreach (var (graph, onnx) in graphs)
            {
                using var options = target.CreateSessionOptions(intraOpThreads);
                sessions[graph] = new InferenceSession(onnx, options);
            }

            var model = new OnnxRankingModel(version, target, sessions);
            model.WarmUp();
            return model;
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelRefusedException or EntryPointNotFoundException or DllNotFoundException or KeyNotFoundException or InvalidOperationException)
        {
            foreach (var session in sessions.Values)
            {
                session.Dispose();
            }

            throw e as ModelRefusedException ?? new ModelRefusedException($"version {version} on {target}: {e.Message}", e);
        }
    }

    /// <summary>The engine's model as ONNX on <paramref name="target"/> (version 0, and tests).</summary>
    public static OnnxRankingModel From(RankingModel model, ExecutionTarget target, int intraOpThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Load(model.Version, RankingOnnx.Export(model), target, intraOpThreads);
    }

    /// <summary>Encodes requests for this version's graphs: the built-in inputs and the configured features it reads.</summary>
    public RankingBatch Encode(IReadOnlyList<RankingInput> requests) => RankingBatch.Create(requests, schema: Features);

    /// <summary>The user tower's embedding of a user's recent events, as of <paramref name="at"/>; zeros for no events.</summary>
    public float[] EmbedUser(string userId, IReadOnlyList<RecentEvent> recent, DateTimeOffset at)
    {
        var batch = RankingBatch.Create([new RankingInput { UserId = userId, Context = new(), At = at, Recent = recent, Ads = [] }]);
        return UserEmbeddings(batch);
    }

    /// <summary>
    /// Click probabilities of <paramref name="request"/>'s candidates by <paramref name="tier"/>. With an
    /// <paramref name="exit"/> rule, a candidate stops at the first exit head that rules it out (see
    /// <see cref="EarlyExitRule"/>), with that head's score: the engine's scores. The graph computes every head for every
    /// candidate, so <see cref="TierScores.CandidateLayers"/> is always N × heads here.
    /// </summary>
    public TierScores Score(string tier, RankingInput request, EarlyExitRule? exit = null) => Score(tier, Encode([request]), [exit])[0];

    /// <summary>
    /// Scores a batch of requests in one run of <paramref name="tier"/>'s graph (the user side once per request), then
    /// applies each request's exit rule; one <see cref="TierScores"/> per request, in order.
    /// </summary>
    public TierScores[] Score(string tier, RankingBatch batch, IReadOnlyList<EarlyExitRule?> exits)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(exits);
        if (!_sessions.TryGetValue(tier, out var session) || !_heads.TryGetValue(tier, out var heads))
        {
            throw new ArgumentException($"Unknown tier '{tier}'.", nameof(tier));
        }

        if (exits.Count != batch.Requests)
        {
            throw new ArgumentException($"{exits.Count} exit rules for {batch.Requests} requests", nameof(exits));
        }

        var embeddings = batch.UsesServedEmbeddings ? batch.ServedEmbeddings : UserEmbeddings(batch);
        var logits = new float[batch.Candidates * heads];
        using (var output = OrtValue.CreateTensorValueFromMemory(logits, [batch.Candidates, heads]))
        {
            Run(session, batch, embeddings, OnnxNames.Logits, output);
        }

        var results = new TierScores[batch.Requests];
        var first = 0;
        for (var r = 0; r < batch.Requests; r++)
        {
            var count = 0;
            while (first + count < batch.Candidates && batch.RequestOf[first + count] == r)
            {
                count++;
            }

            var scores = new float[count];
            var layers = EarlyExit.Apply(logits.AsSpan(first * heads, count * heads), heads, exits[r], scores);
            results[r] = new TierScores(scores, layers);
            first += count;
        }

        return results;
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
        {
            session.Dispose();
        }
    }

    private float[] UserEmbeddings(RankingBatch batch)
    {
        if (!_sessions.TryGetValue(OnnxNames.UserTower, out var tower))
        {
            throw new InvalidOperationException("this model does not serve the user tower");
        }

        var embeddings = new float[batch.Requests * FeatureSpace.UserEmbeddingDimension];
        using var output = OrtValue.CreateTensorValueFromMemory(embeddings, [batch.Requests, FeatureSpace.UserEmbeddingDimension]);
        Run(tower, batch, batch.ServedEmbeddings, OnnxNames.UserEmbedding, output);
        return embeddings;
    }

    // Feeds the graph's declared inputs from the batch's arrays (no copy) and writes its one output into `output`.
    private static void Run(InferenceSession session, RankingBatch batch, float[] userEmbeddings, string outputName, OrtValue output)
    {
        var names = session.InputNames;
        var inputs = new OrtValue[names.Count];
        try
        {
            for (var i = 0; i < inputs.Length; i++)
            {
                inputs[i] = BatchInputs.Create(batch, names[i], userEmbeddings);
            }

            using var options = new RunOptions();
            session.Run(options, names, inputs, [outputName], [output]);
        }
        finally
        {
            foreach (var input in inputs)
            {
                input?.Dispose();
            }
        }
    }

    // One run of every graph on a small request: a graph that cannot run, or runs to NaN, is refused here.
    private void WarmUp()
    {
        var at = DateTimeOffset.UnixEpoch;
        var request = new RankingInput
        {
            UserId = "warm-up",
            Context = new(),
            At = at,
            Recent = [new() { Category = "warm-up", Kind = UserActionKind.View, OccurredAt = at.AddMinutes(-1) }],
            UserEmbedding = new float[FeatureSpace.UserEmbeddingDimension],
            Ads = [new AdInput("warm-up-1", "warm-up"), new AdInput("warm-up-2", "warm-up", new float[FeatureSpace.PrecomputedDimension])],
        };
        if (_sessions.ContainsKey(OnnxNames.UserTower) && !EmbedUser(request.UserId, request.Recent, at).All(float.IsFinite))
        {
            throw new ModelRefusedException($"version {Version}: the user tower's warm-up embedding is not finite");
        }

        foreach (var tier in _heads.Keys)
        {
            if (!Score(tier, request).Scores.All(float.IsFinite))
            {
                throw new ModelRefusedException($"version {Version}: tier {tier}'s warm-up scores are not finite");
            }
        }
    }
}

/// <summary>A model version that cannot serve: it did not load, did not warm, or is not what was published.</summary>
public sealed class ModelRefusedException(string message, Exception? inner = null) : Exception(message, inner);
