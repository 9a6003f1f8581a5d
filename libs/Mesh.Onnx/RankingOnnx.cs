using System.Globalization;
using Google.Protobuf;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Mesh.Onnx;

/// <summary>The names of the exported graphs' inputs and outputs (documented in <c>docs/models.md</c>).</summary>
public static class OnnxNames
{
    /// <summary>The graph of the user tower, beside one graph per tier named after the tier (<c>small</c>, <c>large</c>).</summary>
    public const string UserTower = "user-tower";

    /// <summary>The symbolic dimension of the requests in a batch (R).</summary>
    public const string Requests = "requests";

    /// <summary>The symbolic dimension of the candidates over all requests (N).</summary>
    public const string Candidates = "candidates";

    // Inputs, int32 bucket ids as FeatureSpace computes them, or float32.
    public const string UserIds = "user_ids";
    public const string Surfaces = "surfaces";
    public const string Devices = "devices";
    public const string Hours = "hours";
    public const string UserEmbedding = "user_embedding";
    public const string RequestOf = "request_of";
    public const string AdIds = "ad_ids";
    public const string Categories = "categories";
    public const string Precomputed = "precomputed";
    public const string SequenceCategories = "sequence_categories";
    public const string SequenceKinds = "sequence_kinds";
    public const string SequenceAges = "sequence_ages";

    /// <summary>The prefix of a configured feature's input: <c>feature.&lt;name&gt;</c>.</summary>
    public const string FeaturePrefix = "feature.";

    /// <summary>
    /// Metadata key of a tier graph whose model reads configured features: the <see cref="FeatureSchema"/> as JSON,
    /// what serving encodes batches with. Absent when there are none.
    /// </summary>
    public const string FeaturesMetadata = "mesh.features";

    // Outputs.
    public const string Logits = "logits";
    public const string Score = "score";

    /// <summary>
    /// The input of configured feature <paramref name="name"/>: categorical int32 (rows, MaxValues) bucket ids, -1
    /// padding after a row's values; numeric float32 (rows, 2) [value, present]. Rows: requests for a context feature,
    /// candidates for a candidate feature.
    /// </summary>
    public static string Feature(string name) => FeaturePrefix + name;
}

/// <summary>
/// Writes a <see cref="RankingModel"/> as ONNX (opset 17, float32, batch dimensions named <c>requests</c> and
/// <c>candidates</c>): the user tower and every tier, each a graph of its own. Embedding tables are initializers read
/// with <c>Gather</c>, so a graph takes the bucket ids <see cref="FeatureSpace"/> computes from the raw strings, the
/// same arrays as <see cref="RankingBatch"/>. A tier's graph outputs the logit of every prediction head (DHEN's exit
/// heads, final head last) and the final click probability: early exit is then applied to those outputs.
/// The graphs restate each network's forward pass op by op; the export tests hold them to the engine's within 1e-5.
/// </summary>
public static class RankingOnnx
{
    private const int UserDim = FeatureSpace.UserEmbeddingDimension;
    private const int T = FeatureSpace.SequenceLength;

    /// <summary>
    /// The model's graphs, serialized, by name: <see cref="OnnxNames.UserTower"/> and each tier's name; with
    /// <paramref name="include"/>, only the graphs it accepts (the others are not built).
    /// </summary>
    public static IReadOnlyDictionary<string, byte[]> Export(RankingModel model, Func<string, bool>? include = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Export(model, model.Version, model.TrainedExamples, include);
    }

    /// <summary>As <see cref="Export(RankingModel, Func{string, bool})"/>, for weights about to be published as <paramref name="version"/>.</summary>
    public static IReadOnlyDictionary<string, byte[]> Export(RankingModel model, long version, long trainedExamples, Func<string, bool>? include = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        include ??= _ => true;
        var graphs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (include(OnnxNames.UserTower))
        {
            graphs[OnnxNames.UserTower] = UserTower(model, version, trainedExamples).ToByteArray();
        }

        foreach (var (tier, network) in model.Tiers.Where(t => include(t.Key)))
        {
            graphs[tier] = Network(network, version, trainedExamples).ToByteArray();
        }

        return graphs;
    }

    /// <summary>
    /// The user tower: sequence_categories, sequence_kinds, sequence_ages (R, 16) int32, newest event last, -1 for
    /// padding -> user_embedding (R, 32); zeros for a user without events.
    /// </summary>
    public static ModelProto UserTower(RankingModel model, long? version = null, long? trainedExamples = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = Mesh.Models.Networks.UserTower.Config;
        int heads = (int)config["heads"]!, queries = (int)config["queries"]!;
        var graph = new OnnxGraph(OnnxNames.UserTower);
        var w = new LayerWriter(graph, model.UserTower.Parameters);
        var name = model.UserTower.Name;

        var categories = graph.Input(OnnxNames.SequenceCategories, DataType.Int32, OnnxNames.Requests, T);
        var kinds = graph.Input(OnnxNames.SequenceKinds, DataType.Int32, OnnxNames.Requests, T);
        var ages = graph.Input(OnnxNames.SequenceAges, DataType.Int32, OnnxNames.Requests, T);
        var mask = w.Valid(categories);
        var tokens = SequenceTokens(w, name, categories, kinds, ages);
        var h = w.LayerNorm(graph.Op("Add", tokens, w.SelfAttention(tokens, $"{name}.attention", UserDim, heads, mask)), $"{name}.norm");
        var pooled = w.Pooling(h, $"{name}.pooling", UserDim, heads, queries, mask);
        var embedding = graph.Op("Tanh", w.Linear(pooled, $"{name}.output"));
        var hasEvents = graph.Op("ReduceMax", [mask], ("axes", new long[] { 1 }), ("keepdims", 1L));
        graph.Output(OnnxNames.UserEmbedding, graph.Op("Mul", embedding, hasEvents), DataType.Float, OnnxNames.Requests, UserDim);
        return graph.Model("Mesh user tower: a user's newest events to the user embedding.", Metadata(version ?? model.Version, trainedExamples ?? model.TrainedExamples, OnnxNames.UserTower, "user-tower"));
    }

    /// <summary>One tier's graph (see <c>docs/models.md</c> for its inputs by architecture).</summary>
    public static ModelProto Tier(RankingModel model, string tier)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Network(model.Tier(tier), model.Version, model.TrainedExamples);
    }

    /// <summary>A ranking network's graph, named after the network (its tier); the version goes into the metadata.</summary>
    public static ModelProto Network(RankingNetwork network, long version = 0, long trainedExamples = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        var tier = network.Name;
        var graph = new OnnxGraph(tier);
        var w = new LayerWriter(graph, network.Parameters);
        List<string> heads = network switch
        {
            Dhen dhen => Dhen(w, dhen),
            InterFormer interFormer => [InterFormer(w, interFormer)],
            LogisticRegression => [Logistic(w, network.Name, network.Features)],
            _ => throw new NotSupportedException($"no ONNX export for the '{network.Architecture}' architecture of tier '{tier}'"),
        };

        graph.Output(OnnxNames.Logits, heads.Count == 1 ? heads[0] : w.Concat([.. heads]), DataType.Float, OnnxNames.Candidates, heads.Count);
        var final = graph.Op("Squeeze", heads[^1], graph.Longs(1));
        graph.Output(OnnxNames.Score, graph.Op("Sigmoid", final), DataType.Float, OnnxNames.Candidates);
        var metadata = Metadata(version, trainedExamples, tier, network.Architecture);
        if (!network.Features.IsEmpty)
        {
            metadata[OnnxNames.FeaturesMetadata] = network.Features.ToJson().ToJsonString();
        }

        return graph.Model($"Mesh ranking tier '{tier}' ({network.Architecture}): click logits of every head and the final click probability.", metadata);
    }

    // The F fields of FieldEmbeddings (8 built-in, then one per configured feature on its side) -> (N, F·E).
    private static string Fields(LayerWriter w, string name, FeatureSchema features)
    {
        var g = w.Graph;
        var (userIds, surfaces, devices, hours) = RequestIds(g);
        var user = g.Input(OnnxNames.UserEmbedding, DataType.Float, OnnxNames.Requests, UserDim);
        var (requestOf, adIds, categories) = CandidateIds(g);
        var precomputed = g.Input(OnnxNames.Precomputed, DataType.Float, OnnxNames.Candidates, FeatureSpace.PrecomputedDimension + 1);

        var fields = $"{name}.fields";
        var perRequest = w.Concat(
        [
            w.Lookup($"{fields}.user", userIds),
            w.Lookup($"{fields}.surface", surfaces),
            w.Lookup($"{fields}.device", devices),
            w.Lookup($"{fields}.hour", hours),
            w.Linear(user, $"{fields}.embedding"),
            .. features.Context.Select(f => FeatureTerm(w, fields, f)),
        ]);
        return w.Concat(
        [
            w.Gather(perRequest, requestOf),
            w.Lookup($"{fields}.ad", adIds),
            w.Lookup($"{fields}.category", categories),
            w.Linear(precomputed, $"{fields}.precomputed"),
            .. features.Candidate.Select(f => FeatureTerm(w, fields, f)),
        ]);
    }

    // A configured feature's input -> (rows, width of its layer): categorical, the mean of its present values' rows
    // (zeros when none); numeric, the dense layer over [value, present].
    private static string FeatureTerm(LayerWriter w, string owner, FeatureField feature)
    {
        var layer = FieldEmbeddings.FeatureLayerName(owner, feature.Name);
        var input = FeatureInput(w.Graph, feature);
        return feature.Kind == FeatureKind.Categorical ? w.MeanLookup(layer, input) : w.Linear(input, layer);
    }

    private static string FeatureInput(OnnxGraph g, FeatureField feature)
    {
        var rows = feature.Side == FeatureSide.Context ? OnnxNames.Requests : OnnxNames.Candidates;
        return feature.Kind == FeatureKind.Categorical
            ? g.Input(OnnxNames.Feature(feature.Name), DataType.Int32, rows, feature.MaxValues)
            : g.Input(OnnxNames.Feature(feature.Name), DataType.Float, rows, 2);
    }

    // DHEN: per layer, attention over the fields, a cross layer against x0 and an MLP, mixed, added and normalised;
    // a head after every layer. Returns the heads' logits, (N, 1) each.
    private static List<string> Dhen(LayerWriter w, Dhen dhen)
    {
        var g = w.Graph;
        var config = dhen.Settings;
        int f = dhen.Fields, e = config.Width, dim = f * e;
        var x0 = Fields(w, dhen.Name, dhen.Features);
        var x = x0;
        var heads = new List<string>();
        for (var l = 0; l < dhen.Depth; l++)
        {
            var layer = $"{dhen.Name}.layer{l}";
            var attended = w.Reshape(w.SelfAttention(w.Reshape(x, 0, f, e), $"{layer}.attention", e, config.Heads, mask: null), 0, dim);
            var cross = g.Op("Add", g.Op("Mul", x0, w.Linear(x, $"{layer}.cross")), x);
            var mlp = w.Mlp(x, $"{layer}.mlp", 2, "Relu");
            x = w.LayerNorm(g.Op("Add", x, w.Linear(w.Concat(attended, cross, mlp), $"{layer}.mix")), $"{layer}.norm");
            heads.Add(w.Linear(x, $"{dhen.Name}.head{l}"));
        }

        return heads;
    }

    // InterFormer: fields and the candidate's copy of its request's sequence update each other layer by layer.
    private static string InterFormer(LayerWriter w, InterFormer network)
    {
        var g = w.Graph;
        var c = network.Settings;
        int f = network.Fields, e = c.Width, s = c.SummaryTokens;
        var name = network.Name;
        var x = Fields(w, name, network.Features);
        var requestOf = OnnxNames.RequestOf;
        var categories = g.Input(OnnxNames.SequenceCategories, DataType.Int32, OnnxNames.Requests, T);
        var kinds = g.Input(OnnxNames.SequenceKinds, DataType.Int32, OnnxNames.Requests, T);
        var ages = g.Input(OnnxNames.SequenceAges, DataType.Int32, OnnxNames.Requests, T);

        // Embedded once per request, then broadcast to the request's candidates.
        var tokens = SequenceTokens(w, $"{name}.sequence", categories, kinds, ages);
        var sequence = w.Reshape(w.Gather(w.Reshape(tokens, 0, T * e), requestOf), 0, T, e);
        var mask = w.Gather(w.Valid(categories), requestOf); // (N, T)
        var extended = g.Op("Pad", [mask, g.Longs(0, s, 0, 0), g.Scalar(1f)]); // (N, S + T): summary tokens always attendable
        for (var l = 0; l < c.Layers; l++)
        {
            var layer = $"{name}.layer{l}";
            var summary = w.Pooling(sequence, $"{layer}.sequenceSummary", e, c.Heads, s, mask);
            var joint = TransformerBlock(w, w.Reshape(w.Concat(x, summary), 0, f + s, e), $"{layer}.interaction", e, c.Heads, mask: null);
            x = w.Slice(w.Reshape(joint, 0, (f + s) * e), 0, f * e);
            var lead = w.Linear(x, $"{layer}.featureSummary");
            var both = w.Reshape(w.Concat(lead, w.Reshape(sequence, 0, T * e)), 0, s + T, e);
            var updated = TransformerBlock(w, both, $"{layer}.sequence", e, c.Heads, extended);
            sequence = w.Reshape(w.Slice(w.Reshape(updated, 0, (s + T) * e), s * e, T * e), 0, T, e);
        }

        var last = w.Pooling(sequence, $"{name}.summary", e, c.Heads, s, mask);
        return w.Mlp(w.Concat(x, last), $"{name}.head", 2, "Relu");
    }

    // Post-norm transformer block: attention, then a GELU FFN, each with a residual and a layer norm.
    private static string TransformerBlock(LayerWriter w, string x, string block, int dim, int heads, string? mask)
    {
        var g = w.Graph;
        var h = w.LayerNorm(g.Op("Add", x, w.SelfAttention(x, $"{block}.attention", dim, heads, mask)), $"{block}.norm1");
        return w.LayerNorm(g.Op("Add", h, w.Mlp(h, $"{block}.ffn", 2, "Gelu")), $"{block}.norm2");
    }

    // Logistic regression: one weight per id, the mean weight of the sequence's categories, a bias -> (N, 1); each
    // configured feature adds its term (the mean weight of its values, or w·[value, present]) on its side.
    private static string Logistic(LayerWriter w, string name, FeatureSchema features)
    {
        var g = w.Graph;
        var (userIds, surfaces, devices, hours) = RequestIds(g);
        var (requestOf, adIds, categories) = CandidateIds(g);
        var sequence = g.Input(OnnxNames.SequenceCategories, DataType.Int32, OnnxNames.Requests, T);

        // ReduceSum takes its axes as an input from opset 13 on (ReduceMax only from 18).
        var count = g.Op("Max", g.Op("ReduceSum", [w.Valid(sequence), g.Longs(1)], ("keepdims", 0L)), g.Scalar(1f));
        var sum = g.Op("ReduceSum", [w.PaddedLookup($"{name}.sequence", sequence), g.Longs(1)], ("keepdims", 0L)); // (R, 1)
        var mean = g.Op("Div", sum, w.Unsqueeze(count, -1));
        var perRequest = g.Op("Add",
            g.Op("Add", g.Op("Add", w.Lookup($"{name}.user", userIds), w.Lookup($"{name}.surface", surfaces)), g.Op("Add", w.Lookup($"{name}.device", devices), w.Lookup($"{name}.hour", hours))),
            mean);
        var perCandidate = g.Op("Add", w.Lookup($"{name}.ad", adIds), w.Lookup($"{name}.category", categories));
        foreach (var feature in features.Features)
        {
            var term = FeatureTerm(w, name, feature);
            if (feature.Side == FeatureSide.Context)
            {
                perRequest = g.Op("Add", perRequest, term);
            }
            else
            {
                perCandidate = g.Op("Add", perCandidate, term);
            }
        }

        return g.Op("Add", g.Op("Add", w.Gather(perRequest, requestOf), perCandidate), w.Weight($"{name}.bias"));
    }

    // The per-request id inputs (R each).
    private static (string UserIds, string Surfaces, string Devices, string Hours) RequestIds(OnnxGraph g) => (
        g.Input(OnnxNames.UserIds, DataType.Int32, OnnxNames.Requests),
        g.Input(OnnxNames.Surfaces, DataType.Int32, OnnxNames.Requests),
        g.Input(OnnxNames.Devices, DataType.Int32, OnnxNames.Requests),
        g.Input(OnnxNames.Hours, DataType.Int32, OnnxNames.Requests));

    // The per-candidate id inputs (N each): the request of each candidate, its ad and category.
    private static (string RequestOf, string AdIds, string Categories) CandidateIds(OnnxGraph g) => (
        g.Input(OnnxNames.RequestOf, DataType.Int32, OnnxNames.Candidates),
        g.Input(OnnxNames.AdIds, DataType.Int32, OnnxNames.Candidates),
        g.Input(OnnxNames.Categories, DataType.Int32, OnnxNames.Candidates));

    // (R, T) ids -> (R, T, dim) tokens: category + kind + age embeddings, zeros for padding.
    private static string SequenceTokens(LayerWriter w, string name, string categories, string kinds, string ages) =>
        w.Graph.Op("Add", w.Graph.Op("Add", w.PaddedLookup($"{name}.category", categories), w.PaddedLookup($"{name}.kind", kinds)), w.PaddedLookup($"{name}.age", ages));

    private static Dictionary<string, string> Metadata(long version, long trainedExamples, string graph, string architecture) => new(StringComparer.Ordinal)
    {
        ["mesh.graph"] = graph,
        ["mesh.architecture"] = architecture,
        ["mesh.version"] = version.ToString(CultureInfo.InvariantCulture),
        ["mesh.trained_examples"] = trainedExamples.ToString(CultureInfo.InvariantCulture),
    };
}
