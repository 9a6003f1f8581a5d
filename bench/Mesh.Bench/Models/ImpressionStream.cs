using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.World;

namespace Mesh.Bench.Models;

/// <summary>Settings of an <see cref="ImpressionStream"/>.</summary>
public sealed record ImpressionStreamOptions
{
    /// <summary>Seed of the world (<see cref="WorldOptions.Seed"/>; every other option is the world's default), of its traffic and of the serving and click draws. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Served impressions to generate for training: whole requests, so at least this many. Default 1,000,000.</summary>
    public int Impressions { get; init; } = 1_000_000;

    /// <summary>Candidates retrieved per request (the session's pool). Default 50.</summary>
    public int Candidates { get; init; } = 50;

    /// <summary>Candidates served per request, drawn uniformly from the retrieved ones: the impressions. Default 10.</summary>
    public int Served { get; init; } = 10;

    /// <summary>Requests after the training stream whose every candidate is labelled, for evaluation only. Default 2,000.</summary>
    public int HoldoutRequests { get; init; } = 2_000;

    /// <summary>Simulated requests per second: sets the session pool and the clock (request i happens at i / rate). Default 100.</summary>
    public double RequestsPerSecond { get; init; } = 100;
}

/// <summary>One request of the stream: the model input, its candidates' click labels (0 or 1) and their planted click probabilities.</summary>
public sealed record StreamRequest(RankingInput Input, float[] Labels, double[] Probabilities);

/// <summary>
/// A labelled impression stream from the synthetic world (<see cref="SyntheticWorld"/>, default options), in time order:
/// requests of a <see cref="TrafficStream"/> at a fixed simulated rate; per request, the user's recent organic events
/// (the events each request brought, appended to a per-user history, newest <see cref="FeatureSpace.SequenceLength"/>
/// kept) and <see cref="ImpressionStreamOptions.Served"/> of its candidates served uniformly at random (unbiased logging,
/// what an untrained ranker serves), each clicked with its planted probability. After the training requests come
/// <see cref="ImpressionStreamOptions.HoldoutRequests"/> requests with every candidate served and labelled, for
/// evaluation. Deterministic for a seed; generated once and held in memory, so every model sees the identical sequence.
/// </summary>
public sealed class ImpressionStream
{
    /// <summary>Simulated time zero of the world.</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    private ImpressionStream(ImpressionStreamOptions options, List<StreamRequest> training, List<StreamRequest> holdout)
    {
        Options = options;
        Training = training;
        Holdout = holdout;
        Impressions = training.Sum(r => r.Labels.Length);
    }

    public ImpressionStreamOptions Options { get; }

    /// <summary>The requests to train on, in time order; their <see cref="RankingInput.Ads"/> are the served candidates.</summary>
    public IReadOnlyList<StreamRequest> Training { get; }

    /// <summary>The requests after training, every candidate labelled.</summary>
    public IReadOnlyList<StreamRequest> Holdout { get; }

    /// <summary>Impressions (labels) in <see cref="Training"/>.</summary>
    public long Impressions { get; }

    public static ImpressionStream Generate(ImpressionStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Served < 1 || options.Served > options.Candidates || options.Impressions < 1 || options.HoldoutRequests < 0)
        {
            throw new ArgumentException("need 1 <= served <= candidates, impressions >= 1, holdout >= 0", nameof(options));
        }

        var world = new SyntheticWorld(new WorldOptions { Seed = options.Seed }, Start);
        var traffic = world.CreateTraffic(new TrafficOptions
        {
            Seed = options.Seed,
            RequestsPerSecond = options.RequestsPerSecond,
            CandidatesPerRequest = options.Candidates,
        });

        // Serving and clicks draw from their own generator, so the world's traffic does not depend on them.
        var random = new Random(options.Seed);
        var histories = new Dictionary<string, List<RecentEvent>>(StringComparer.Ordinal);
        var trainingRequests = (options.Impressions + options.Served - 1) / options.Served;
        var training = new List<StreamRequest>(trainingRequests);
        var holdout = new List<StreamRequest>(options.HoldoutRequests);
        var order = new int[options.Candidates];
        for (var i = 0; i < trainingRequests + options.HoldoutRequests; i++)
        {
            var at = Start + TimeSpan.FromSeconds(i / options.RequestsPerSecond);
            var request = traffic.Next(at);
            var recent = Remember(histories, request);
            var served = i < trainingRequests ? options.Served : request.Candidates.Count;
            for (var j = 0; j < order.Length; j++)
            {
                order[j] = j;
            }

            // A partial Fisher-Yates shuffle: the first `served` positions are a uniform sample without replacement.
            for (var j = 0; j < served; j++)
            {
                var k = j + random.Next(order.Length - j);
                (order[j], order[k]) = (order[k], order[j]);
            }

            var ads = new AdInput[served];
            var labels = new float[served];
            var probabilities = new double[served];
            for (var j = 0; j < served; j++)
            {
                var candidate = request.Candidates[order[j]];
                ads[j] = new AdInput(candidate.AdId!, candidate.Category!);
                probabilities[j] = request.ClickProbabilities[order[j]];
                labels[j] = random.NextDouble() < probabilities[j] ? 1f : 0f;
            }

            var input = new RankingInput { UserId = request.UserId, Context = request.Context, At = at, Recent = recent, Ads = ads };
            (i < trainingRequests ? training : holdout).Add(new StreamRequest(input, labels, probabilities));
        }

        return new ImpressionStream(options, training, holdout);
    }

    // Adds the request's organic events (all before the request) to the user's history and returns the newest
    // SequenceLength of them, oldest first: what a feature store would serve for this request.
    private static RecentEvent[] Remember(Dictionary<string, List<RecentEvent>> histories, SyntheticRequest request)
    {
        if (!histories.TryGetValue(request.UserId, out var history))
        {
            histories[request.UserId] = history = [];
        }

        // In time order: a user can have two sessions open at once, whose events interleave.
        foreach (var e in request.Events)
        {
            var at = history.Count;
            while (at > 0 && history[at - 1].OccurredAt > e.OccurredAt)
            {
                at--;
            }

            history.Insert(at, new RecentEvent { Category = e.Category!, Kind = e.Kind, OccurredAt = e.OccurredAt!.Value });
        }

        if (history.Count > FeatureSpace.SequenceLength)
        {
            history.RemoveRange(0, history.Count - FeatureSpace.SequenceLength);
        }

        return [.. history];
    }
}
