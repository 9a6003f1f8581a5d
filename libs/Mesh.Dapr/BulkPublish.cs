namespace Mesh.Dapr;

/// <summary>One event of a <see cref="IEventPublisher.PublishManyAsync"/> call that was not published.</summary>
/// <param name="Index">Position of the event in the list passed to <see cref="IEventPublisher.PublishManyAsync"/>.</param>
/// <param name="Error">Why, as the runtime reported it.</param>
public sealed record BulkPublishFailure(int Index, string Error);

/// <summary>
/// Some events of a bulk publish failed while the others were published (Dapr: 500 with <c>failedEntries</c>, protocol
/// §1.4). Retry only <see cref="FailedItems{T}"/>: republishing the rest would deliver them twice.
/// </summary>
public sealed class BulkPublishException(string topic, int count, IReadOnlyList<BulkPublishFailure> failures, Exception? inner = null)
    : Exception($"Publishing {failures.Count} of {count} events to '{topic}' failed (entries {string.Join(", ", failures.Select(f => f.Index))}): {failures[0].Error}", inner)
{
    public string Topic { get; } = topic;

    /// <summary>How many events the call published or tried to.</summary>
    public int Count { get; } = count;

    /// <summary>The failed events, in list order.</summary>
    public IReadOnlyList<BulkPublishFailure> Failures { get; } = failures;

    /// <summary>The events of <paramref name="events"/> (the list that was published) that failed, in order.</summary>
    public IReadOnlyList<T> FailedItems<T>(IReadOnlyList<T> events) => [.. Failures.Select(f => events[f.Index])];
}

internal static class BulkPublishing
{
    /// <summary>
    /// The fallback for a runtime without a bulk API: one publish per event. Every event is tried, as daprd tries every
    /// entry of a bulk request, so the failures can be retried alone.
    /// </summary>
    public static async Task OneByOneAsync<T>(IEventPublisher publisher, string topic, IReadOnlyList<T> events, CancellationToken cancellationToken)
    {
        List<BulkPublishFailure>? failures = null;
        Exception? first = null;
        for (var i = 0; i < events.Count; i++)
        {
            try
            {
                await publisher.PublishAsync(topic, events[i], cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                (failures ??= []).Add(new BulkPublishFailure(i, e.Message));
                first ??= e;
            }
        }

        if (failures is not null)
        {
            throw new BulkPublishException(topic, events.Count, failures, first);
        }
    }
}
