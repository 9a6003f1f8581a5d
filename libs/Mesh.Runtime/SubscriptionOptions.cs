namespace Mesh.Runtime;

/// <summary>
/// Bulk subscribe (protocol §2.5): daprd collects up to <see cref="MaxMessagesCount"/> events of the topic, or what came
/// within <see cref="MaxAwaitDurationMs"/>, and posts them in one request; the app answers a status per event.
/// </summary>
public sealed record BulkSubscribeOptions
{
    /// <summary>Most events per batch. Default 100 (Dapr's).</summary>
    public int MaxMessagesCount { get; init; } = 100;

    /// <summary>Longest an event waits for its batch to fill, in milliseconds. Default 1000 (Dapr's).</summary>
    public int MaxAwaitDurationMs { get; init; } = 1000;
}

/// <summary>
/// A routing rule of a topic (protocol §2.2 <c>routes.rules</c>): daprd sends an event to the first rule, by ascending
/// <paramref name="Priority"/>, whose CEL <paramref name="Match"/> is true of it (e.g. <c>event.type == "widget"</c>),
/// else to the topic's default route; with no default it acks and drops the event. Priorities are unique per topic.
/// </summary>
public sealed record RoutingRule(string Match, int Priority);
