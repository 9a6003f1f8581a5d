namespace Mesh.Contracts;

/// <summary>Keys of the state stores, shared by the service that writes and the services that read.</summary>
public static class StateKeys
{
    /// <summary><c>models</c>: the <see cref="ModelPointer"/> to the ranking model serving now. Keys avoid "/", which would not survive the sidecar URL.</summary>
    public const string LatestRankingModel = "ranker.latest";

    /// <summary><c>models</c>: a ranking <see cref="ModelCheckpoint"/> by version.</summary>
    public static string RankingCheckpoint(long version) => $"ranker.v{version}";

    /// <summary><c>models</c>: one ONNX graph of a ranking model version (<see cref="ModelGraph"/>): <c>user-tower</c> or a tier.</summary>
    public static string RankingGraph(long version, string graph) => $"ranker.v{version}.{graph}.onnx";

    /// <summary><c>models</c>: the <see cref="ModelPointer"/> to the newest published foundation model (<see cref="ModelNames.Foundation"/>).</summary>
    public const string LatestFoundationModel = "foundation.latest";

    /// <summary><c>models</c>: a foundation model <see cref="ModelCheckpoint"/> by version (its own version sequence, apart from the ranker's).</summary>
    public static string FoundationCheckpoint(long version) => $"foundation.v{version}";

    /// <summary><c>precomputed</c>: the <see cref="PrecomputedRepresentation"/> of a (user, ad) pair. Dapr keys may not contain "||".</summary>
    public static string Precomputed(string userId, string adId) => $"{userId}:{adId}";

    /// <summary><c>embeddings</c> and <c>user-activity</c>: by user id.</summary>
    public static string User(string userId) => userId;
}

/// <summary>Value of <see cref="StateKeys.LatestRankingModel"/>.</summary>
public sealed record ModelPointer
{
    public required long Version { get; init; }
    public required string CheckpointKey { get; init; }

    /// <summary>The version's ONNX graphs by name (see <see cref="ModelPublished.GraphKeys"/>); null from a trainer before ONNX.</summary>
    public IReadOnlyDictionary<string, string>? GraphKeys { get; init; }
}

/// <summary>
/// Value of <see cref="StateKeys.RankingCheckpoint"/>: a model version as the trainer saved it. <see cref="Checkpoint"/>
/// is the learning engine's binary checkpoint (magic number, format version, header, float32 tensors, SHA-256), which
/// JSON carries as base64; the readers refuse one whose checksum or architecture does not match.
/// </summary>
public sealed record ModelCheckpoint
{
    public required long Version { get; init; }
    public required long TrainedExamples { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The checkpoint bytes (base64 in JSON).</summary>
    public required byte[] Checkpoint { get; init; }
}

/// <summary>
/// Value of <see cref="StateKeys.RankingGraph"/>: one graph of a model version as ONNX (opset 17, float32), what the
/// services run with ONNX Runtime and what other tools load (docs/models.md). <see cref="Onnx"/> is a serialized
/// <c>ModelProto</c> (base64 in JSON).
/// </summary>
public sealed record ModelGraph
{
    public required long Version { get; init; }

    /// <summary><c>user-tower</c>, or the tier's name.</summary>
    public required string Graph { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The ONNX model bytes.</summary>
    public required byte[] Onnx { get; init; }
}

/// <summary>A foundation-model representation computed ahead of time for one (user, ad) pair.</summary>
public sealed record PrecomputedRepresentation
{
    public required float[] Vector { get; init; }

    /// <summary>
    /// Version of the foundation model that computed it: the version precompute ran, stored with the vector. The ranker
    /// accepts any version whose vector has <c>FeatureSpace.PrecomputedDimension</c> values, and logs it per impression.
    /// </summary>
    public required long FoundationVersion { get; init; }

    /// <summary>User-model version of the embedding it was computed from.</summary>
    public required long EmbeddingVersion { get; init; }

    public required DateTimeOffset ComputedAt { get; init; }

    /// <summary>
    /// When it stops being served, on the same time base as <see cref="ComputedAt"/> (event time): <c>ComputedAt</c> plus
    /// precompute's TTL. The ranker reads one past it as a miss, so that a replay faster than real time (where the
    /// store's clock TTL outlives the event-time one) serves what precompute's ledger counts. Null from older writers.
    /// </summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}
