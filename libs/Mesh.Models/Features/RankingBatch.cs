using System.Text.Json;
using Mesh.Contracts;

namespace Mesh.Models.Features;

/// <summary>
/// Requests encoded for the networks: per-request arrays (R rows: the user side, computed once per request) and
/// per-candidate arrays (N rows), with <see cref="RequestOf"/> mapping each candidate to its request for the broadcast.
/// The arrays are what the graph's embedding ops read, so a batch must outlive the backward pass that uses it.
/// </summary>
public sealed class RankingBatch
{
    private RankingBatch(int requests, int candidates, FeatureSchema schema)
    {
        Schema = schema;
        Features = [.. schema.Features.Select(f => new FeatureColumn(f, f.Side == FeatureSide.Context ? requests : candidates))];
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

    /// <summary>The configured features this batch encodes: those of the model that reads it.</summary>
    public FeatureSchema Schema { get; }

    /// <summary>One column per feature of <see cref="Schema"/>, in its order: R rows for context features, N for candidate ones.</summary>
    public IReadOnlyList<FeatureColumn> Features { get; }

    /// <summary>The column of feature <paramref name="name"/>; throws when the batch was encoded without it.</summary>
    public FeatureColumn Feature(string name) =>
        Features.FirstOrDefault(c => c.Field.Name == name) ?? throw new ArgumentException($"the batch was encoded without feature '{name}' ({Schema})", nameof(name));

    /// <summary>
    /// Encodes <paramref name="requests"/>; <paramref name="labels"/>, when given, holds one label per candidate in order.
    /// <paramref name="schema"/> names the configured features to encode (none by default); values of other names, and
    /// values of the wrong kind, are not read.
    /// </summary>
    public static RankingBatch Create(IReadOnlyList<RankingInput> requests, ReadOnlySpan<float> labels = default, FeatureSchema? schema = null)
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

        var batch = new RankingBatch(requests.Count, candidates, schema ?? FeatureSchema.Empty) { UsesServedEmbeddings = served };
        var scratch = new List<string>();
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
            batch.WriteFeatures(FeatureSide.Context, i, r.Context.Features, scratch);
            foreach (var ad in r.Ads)
            {
                batch.WriteFeatures(FeatureSide.Candidate, n, ad.Features, scratch);
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

    private void WriteFeatures(FeatureSide side, int row, IReadOnlyDictionary<string, JsonElement>? values, List<string> scratch)
    {
        if (values is null || values.Count == 0)
        {
            return;
        }

        foreach (var column in Features)
        {
            if (column.Field.Side == side && values.TryGetValue(column.Field.Name, out var value))
            {
                column.Write(row, value, scratch);
            }
        }
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

/// <summary>
/// One configured feature's encoded values over a batch's rows (R for a context feature, N for a candidate one): what
/// the tiers' field embeddings and the ONNX input <c>feature.&lt;name&gt;</c> read. A row without the feature is all
/// padding (categorical) or [0, 0] (numeric).
/// </summary>
public sealed class FeatureColumn
{
    internal FeatureColumn(FeatureField field, int rows)
    {
        Field = field;
        Rows = rows;
        if (field.Kind == FeatureKind.Categorical)
        {
            Ids = new int[rows * field.MaxValues];
            Ids.AsSpan().Fill(-1);
            Offsets = [.. Enumerable.Range(0, rows + 1).Select(r => r * field.MaxValues)];
            Values = [];
        }
        else
        {
            Ids = [];
            Offsets = [];
            Values = new float[rows * 2];
        }
    }

    public FeatureField Field { get; }

    public int Rows { get; }

    /// <summary>Categorical: (rows, MaxValues) bucket ids, a row's values first, -1 after them; empty for a numeric feature.</summary>
    public int[] Ids { get; }

    /// <summary>Categorical: rows + 1 bag offsets into <see cref="Ids"/> (row r is [r·MaxValues, (r + 1)·MaxValues)).</summary>
    public int[] Offsets { get; }

    /// <summary>Numeric: (rows, 2), [transformed value, 1] where present, [0, 0] where absent; empty for a categorical feature.</summary>
    public float[] Values { get; }

    internal void Write(int row, JsonElement value, List<string> scratch)
    {
        if (Field.Kind == FeatureKind.Categorical)
        {
            scratch.Clear();
            if (FeatureValues.TryReadCategorical(value, Field.MaxValues, scratch, out _))
            {
                for (var j = 0; j < scratch.Count; j++)
                {
                    Ids[(row * Field.MaxValues) + j] = Field.Bucket(scratch[j]);
                }
            }
        }
        else if (FeatureValues.TryReadNumeric(value, out var number) && number is { } x)
        {
            Values[2 * row] = Field.Transformed(x);
            Values[(2 * row) + 1] = 1f;
        }
    }
}
