using Mesh.Contracts;
using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Models.Features;

namespace Mesh.Models.Networks;

/// <summary>
/// The non-sequence features as F fields of width E, the input of the interaction networks. User side (per request):
/// user id, surface, device, hour, the user embedding projected to E, then one field per configured context feature.
/// Candidate side: ad id, category, the precomputed representation with its hit flag projected to E, then one field per
/// configured candidate feature. F = 8 without configured features. Output (N, F·E), user fields first.
/// </summary>
/// <remarks>
/// A categorical feature is a table of its buckets × E, a list mean-pooled over its present values, an absent one a zero
/// field; a numeric feature is Linear(2 → E) over [value, present] ([0, 0] when absent, which leaves the bias).
/// </remarks>
public sealed class FieldEmbeddings : Module
{
    /// <summary>Built-in fields of the user side.</summary>
    public const int UserFields = 5;

    /// <summary>Built-in fields of the candidate side.</summary>
    public const int AdFields = 3;

    /// <summary>Built-in fields: F without configured features.</summary>
    public const int BuiltInFields = UserFields + AdFields;

    private readonly EmbeddingTable _user;
    private readonly EmbeddingTable _surface;
    private readonly EmbeddingTable _device;
    private readonly EmbeddingTable _hour;
    private readonly Linear _embedding;
    private readonly EmbeddingTable _ad;
    private readonly EmbeddingTable _category;
    private readonly Linear? _precomputed;
    private readonly FeatureLayer[] _context;
    private readonly FeatureLayer[] _candidate;

    /// <param name="name">Parameter-name prefix.</param>
    /// <param name="width">E.</param>
    /// <param name="rng">Seeded initialisation.</param>
    /// <param name="features">Configured features (none by default).</param>
    /// <param name="precomputed">
    /// Whether to read the precomputed representation (default true). The foundation model, which produces it, does not:
    /// its fields are one fewer.
    /// </param>
    public FieldEmbeddings(string name, int width, Random rng, FeatureSchema? features = null, bool precomputed = true)
        : base(name)
    {
        Width = width;
        Schema = features ?? FeatureSchema.Empty;
        ReadsPrecomputed = precomputed;
        _user = AddModule(new EmbeddingTable($"{name}.user", FeatureSpace.UserBuckets, width, rng, 0.01f));
        _surface = AddModule(new EmbeddingTable($"{name}.surface", FeatureSpace.ContextBuckets, width, rng, 0.01f));
        _device = AddModule(new EmbeddingTable($"{name}.device", FeatureSpace.ContextBuckets, width, rng, 0.01f));
        _hour = AddModule(new EmbeddingTable($"{name}.hour", FeatureSpace.Hours, width, rng, 0.01f));
        _embedding = AddModule(new Linear($"{name}.embedding", FeatureSpace.UserEmbeddingDimension, width, rng));
        _ad = AddModule(new EmbeddingTable($"{name}.ad", FeatureSpace.AdBuckets, width, rng, 0.01f));
        _category = AddModule(new EmbeddingTable($"{name}.category", FeatureSpace.CategoryBuckets, width, rng, 0.01f));
        _precomputed = precomputed ? AddModule(new Linear($"{name}.precomputed", FeatureSpace.PrecomputedDimension + 1, width, rng)) : null;

        // After the built-in layers, so that without configured features a seed draws the same weights as before them.
        _context = [.. Schema.Context.Select(f => new FeatureLayer(f, AddFeature(f, rng)))];
        _candidate = [.. Schema.Candidate.Select(f => new FeatureLayer(f, AddFeature(f, rng)))];
    }

    /// <summary>E: the width of one field.</summary>
    public int Width { get; }

    /// <summary>The configured features these fields read.</summary>
    public FeatureSchema Schema { get; }

    /// <summary>Whether the precomputed representation is one of the fields.</summary>
    public bool ReadsPrecomputed { get; }

    /// <summary>F: the built-in fields (one fewer without the precomputed one) plus one per configured feature.</summary>
    public int Fields => BuiltInFields - (ReadsPrecomputed ? 0 : 1) + Schema.Features.Count;

    public int OutputDim => Fields * Width;

    public NetworkCost Cost => new(
        (ReadsPrecomputed ? NetworkCost.Dense(FeatureSpace.PrecomputedDimension + 1, Width) : 0) + NumericFlops(Schema.Candidate),
        NetworkCost.Dense(FeatureSpace.UserEmbeddingDimension, Width) + NumericFlops(Schema.Context));

    /// <summary>The parameter-name prefix of a configured feature's layer: <c>{fields}.feature.{name}</c>.</summary>
    public static string FeatureLayerName(string fields, string feature) => $"{fields}.feature.{feature}";

    /// <summary>user: (R, UserEmbeddingDimension) -> (N, F·E), the user side computed per request and gathered to candidates.</summary>
    public Tensor Forward(Graph g, RankingBatch batch, Tensor user)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(batch);
        Tensor[] perRequest =
        [
            _user.Lookup(g, batch.UserIds),
            _surface.Lookup(g, batch.Surfaces),
            _device.Lookup(g, batch.Devices),
            _hour.Lookup(g, batch.Hours),
            _embedding.Forward(g, user),
            .. _context.Select(f => f.Forward(g, batch)),
        ];
        Tensor[] candidate = _precomputed is null
            ? [_ad.Lookup(g, batch.AdIds), _category.Lookup(g, batch.Categories)]
            : [
                _ad.Lookup(g, batch.AdIds),
                _category.Lookup(g, batch.Categories),
                _precomputed.Forward(g, g.Input(batch.Precomputed, new Shape(batch.Candidates, FeatureSpace.PrecomputedDimension + 1))),
            ];
        Tensor[] fields =
        [
            g.Gather(g.Concat(perRequest), batch.RequestOf),
            .. candidate,
            .. _candidate.Select(f => f.Forward(g, batch)),
        ];
        return g.Concat(fields);
    }

    private Module AddFeature(FeatureField feature, Random rng) => feature.Kind == FeatureKind.Categorical
        ? AddModule(new EmbeddingTable(FeatureLayerName(Name, feature.Name), feature.Buckets, Width, rng, 0.01f))
        : AddModule(new Linear(FeatureLayerName(Name, feature.Name), 2, Width, rng));

    private long NumericFlops(IEnumerable<FeatureField> features) =>
        features.Count(f => f.Kind == FeatureKind.Numeric) * NetworkCost.Dense(2, Width);

    // A configured feature's layer and how it reads its column: (rows, E).
    private sealed record FeatureLayer(FeatureField Field, Module Layer)
    {
        public Tensor Forward(Graph g, RankingBatch batch)
        {
            var column = batch.Feature(Field.Name);
            return Layer is EmbeddingTable table
                ? table.Bag(g, column.Ids, column.Offsets, Pooling.Mean)
                : ((Linear)Layer).Forward(g, g.Input(column.Values, new Shape(column.Rows, 2)));
        }
    }
}
