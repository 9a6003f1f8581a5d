namespace Mesh.Runtime;

/// <summary>
/// Bulk subscribe: daprd collects up to <see cref="MaxMessagesCount"/> events of the topic, or what came
/// within <see cref="MaxAwaitDurationMs"/>, and posts them in one request; the app answers a status per event.
/// </summary>
public sealed record BulkSubscribeOptions
{
    /// <summary>Most events per batch. Default 100 (Dapr's).</summary>
    public int MaxMessagesCount { get; init; } = 100;

    /// <summary>Longest an event waits for its batch to fill, in milliseconds. Default 1000 (Dapr's).</summary>
    public int MaxAwaitDurationMs { get; init; } = 1000;
}
