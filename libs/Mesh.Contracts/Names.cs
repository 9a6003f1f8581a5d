namespace Mesh.Contracts;

/// <summary>Dapr app-ids. One name per service everywhere: folder, app-id, Kubernetes objects, component scopes.</summary>
public static class AppIds
{
    public const string Router = "router";
    public const string UserModel = "user-model";
    public const string Precompute = "precompute";
    public const string Ranker = "ranker";
    public const string Trainer = "trainer";

    public static readonly IReadOnlyList<string> All = [Router, UserModel, Precompute, Ranker, Trainer];
}

/// <summary>Pub/sub topics. Each carries one event type, documented in docs/events.md.</summary>
public static class Topics
{
    /// <summary><see cref="UserActed"/>: organic user activity, the input of user-model.</summary>
    public const string UserEvents = "user-events";

    /// <summary><see cref="UserEmbeddingUpdated"/>: a user's embedding was recomputed.</summary>
    public const string UserEmbeddings = "user-embeddings";

    /// <summary><see cref="ImpressionsServed"/>: the ads one rank request served, with the exact inputs used.</summary>
    public const string Impressions = "impressions";

    /// <summary><see cref="FeedbackReceived"/>: a click (or later conversion) on a served impression.</summary>
    public const string Feedback = "feedback";

    /// <summary><see cref="ModelPublished"/>: the trainer published a new ranking model version.</summary>
    public const string ModelPublished = "model-published";

    /// <summary>Where undeliverable events go (poison, DROP, retries exhausted), with their original topic.</summary>
    public const string DeadLetters = "dead-letters";

    public static readonly IReadOnlyList<string> All = [UserEvents, UserEmbeddings, Impressions, Feedback, ModelPublished, DeadLetters];
}

/// <summary>Dapr component names: the pub/sub and the state stores.</summary>
public static class Components
{
    public const string PubSub = "pubsub";

    /// <summary>User embeddings by user id (written by user-model, read by router).</summary>
    public const string EmbeddingStore = "embeddings";

    /// <summary>Each user's recent activity (user-model's own state).</summary>
    public const string ActivityStore = "user-activity";

    /// <summary>Precomputed (user, ad) foundation-model representations, with a TTL.</summary>
    public const string PrecomputedStore = "precomputed";

    /// <summary>Model checkpoints and the pointer to the latest published version.</summary>
    public const string ModelStore = "models";

    public static readonly IReadOnlyList<string> StateStores = [EmbeddingStore, ActivityStore, PrecomputedStore, ModelStore];
}

/// <summary>Values of <see cref="ModelPublished.ModelName"/>: which model family a published version belongs to.</summary>
public static class ModelNames
{
    /// <summary>The serving ranking model (user tower and tiers), loaded by ranker and user-model.</summary>
    public const string Ranker = AppIds.Ranker;

    /// <summary>The foundation model (ExFM's teacher, SOLARIS's representation), loaded by precompute; never served directly.</summary>
    public const string Foundation = "foundation";
}

/// <summary>Actor types, with the service that hosts each.</summary>
public static class ActorTypes
{
    /// <summary>user-model: one actor per user id, owning the user's recent activity and embedding refresh.</summary>
    public const string User = "user";
}

/// <summary>Methods a service serves through service invocation.</summary>
public static class Methods
{
    /// <summary>ranker: <see cref="ScoreRequest"/> to <see cref="ScoreResponse"/>.</summary>
    public const string Score = "score";
}
