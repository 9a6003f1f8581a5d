namespace Mesh.Models.Features;

/// <summary>
/// Requests encoded for the networks: per-request arrays (R rows: the user side, computed once per request) and
/// per-candidate arrays (N rows), with <see cref="RequestOf"/> mapping each candidate to its request for the broadcast.
/// The arrays are what the graph's embedding ops read, so a batch must outlive the backward pass that uses it.
/// </summary>
public sealed class RankingBatch
{
    private RankingBatch(int requests, int candidates)
    {
        Requests = requests;
        Candidates = candidates;
        RequestOf = new int[candidates];
        UserIds = new int[requests];
        Surfaces = new int[requests];
        Devices = new int[requests];
        Hours = new int[requests];
        ServedEmbeddings = new float[requests * FeatureSpace.UserEmbeddingDimension];
        SequenceCategories = new int[requests * FeatureSpace.SequenceLength];
        SequenceKinds = new int[requests * FeatureSpace.SequenceLength];
        SequenceAges = new int[requests * FeatureSpace.SequenceLength];
        SequenceMask = new float[requests * FeatureSpace.SequenceLength];
        HasSequence = new float[requests * FeatureSpace.UserEmbeddingDimension];
        AdIds = new int[candidates];
        Categories = new int[candidates];
        Precomputed = new float[candidates * (FeatureSpace.PrecomputedDimension + 1)];
        Labels = new float[candidates];
    }

    /// <summary>R: requests in the batch.</summary>
    public int Requests { get; }

    /// <summary>N: candidates over all requests.</summary>
    public int Candidates { get; }

    /// <summary>(N): the request of each candidate.</summary>
    public int[] RequestOf { get; }

    /// <summary>(R) each: hashed or indexed user-side ids.</summary>
    public int[] UserIds { get; }

    public int[] Surfaces { get; }
    public int[] Devices { get; }
    public int[] Hours { get; }

    /// <summary>
    /// True when every request came with a served user embedding (<see cref="ServedEmbeddings"/>); false when the user
    /// tower must compute them from the sequences, as in training.
    /// </summary>
    public bool UsesServedEmbeddings { get; private set; }

    /// <summary>(R, UserEmbeddingDimension): the served embeddings; zeros for an unknown user.</summary>
    public float[] ServedEmbeddings { get; }

    /// <summary>(R, SequenceLength) each, newest event last, left-padded with -1 (and 0 in <see cref="SequenceMask"/>).</summary>
    public int[] SequenceCategories { get; }

    public int[] SequenceKinds { get; }
    public int[] SequenceAges { get; }
    public float[] SequenceMask { get; }

    /// <summary>(R, UserEmbeddingDimension): 1 in rows whose user has any event, else 0; zeroes the tower's output for users with no history, as serving does.</summary>
    public float[] HasSequence { get; }

    /// <summary>(N) each: hashed ad and category ids.</summary>
    public int[] AdIds { get; }

    public int[] Categories { get; }

    /// <summary>(N, PrecomputedDimension + 1): the representation and a last column that is 1 on a hit, zeros on a miss.</summary>
    public float[] Precomputed { get; }

    /// <summary>(N): click labels when training (0 or 1); zeros when serving.</summary>
    public float[] Labels { get; }

    /// <summary>Encodes <paramref name="requests"/>; <paramref name="labels"/>, when given, holds one label per candidate in order.</summary>
    public static RankingBatch Create(IReadOnlyList<RankingInput> requests, ReadOnlySpan<float> labels = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var candidates = 0;
        var served = requests.Count > 0;
        foreach (var r in requests)
        {
            candidates += r.Ads.Count;
            served &= r.UserEmbedding is not null;
        }

        if (!labels.IsEmpty && labels.Length != candidates)
        {
            throw new ArgumentException($"{labels.Length} labels for {candidates} candidates", nameof(labels));
        }

        var batch = new RankingBatch(requests.Count, candidates) { UsesServedEmbeddings = served };
        var n = 0;
        for (var i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            batch.UserIds[i] = FeatureSpace.User(r.UserId);
            batch.Surfaces[i] = FeatureSpace.Surface(r.Context.Surface);
            batch.Devices[i] = FeatureSpace.Device(r.Context.Device);
            batch.Hours[i] = FeatureSpace.Hour(r.Context.Hour);
            batch.WriteEmbedding(i, r.UserEmbedding);
            batch.WriteSequence(i, r);
            foreach (var ad in r.Ads)
            {
                batch.RequestOf[n] = i;
                batch.AdIds[n] = FeatureSpace.Ad(ad.AdId);
                batch.Categories[n] = FeatureSpace.Category(ad.Category);
                if (ad.Precomputed is { Length: FeatureSpace.PrecomputedDimension } p)
                {
                    var row = batch.Precomputed.AsSpan(n * (FeatureSpace.PrecomputedDimension + 1), FeatureSpace.PrecomputedDimension + 1);
                    p.CopyTo(row);
                    row[^1] = 1f;
                }

                n++;
            }
        }

        labels.CopyTo(batch.Labels);
        return batch;
    }

    private void WriteEmbedding(int request, float[]? embedding)
    {
        if (embedding is { Length: FeatureSpace.UserEmbeddingDimension })
        {
            embedding.CopyTo(ServedEmbeddings, request * FeatureSpace.UserEmbeddingDimension);
        }
    }

    private void WriteSequence(int request, RankingInput r)
    {
        const int T = FeatureSpace.SequenceLength;
        var count = Math.Min(T, r.Recent.Count);
        var first = r.Recent.Count - count;
        var row = request * T;
        SequenceCategories.AsSpan(row, T - count).Fill(-1);
        SequenceKinds.AsSpan(row, T - count).Fill(-1);
        SequenceAges.AsSpan(row, T - count).Fill(-1);
        for (var j = 0; j < count; j++)
        {
            var e = r.Recent[first + j];
            var at = row + T - count + j;
            SequenceCategories[at] = FeatureSpace.Category(e.Category);
            SequenceKinds[at] = FeatureSpace.Kind(e.Kind);
            SequenceAges[at] = FeatureSpace.Age(r.At - e.OccurredAt);
            SequenceMask[at] = 1f;
        }

        if (count > 0)
        {
            HasSequence.AsSpan(request * FeatureSpace.UserEmbeddingDimension, FeatureSpace.UserEmbeddingDimension).Fill(1f);
        }
    }
}
