using Mesh.Contracts;
namespace Mesh.Runtime.Dapr;

/// <summary>
/// The answer to <c>GET /dapr/subscribe</c> (protocol §2.2), in the shape Dapr.AspNetCore writes (§3): one element per
/// (pubsub, topic), camelCase, no nulls, paths without a leading slash, sorted by (pubsubName, topic). A topic with
/// routing rules gets v2 <c>routes</c> (rules by priority, the plain registration as <c>default</c>), else v1 <c>route</c>.
/// </summary>
internal sealed class SubscribeDocument
{
    private readonly HashSet<string> _bulkTopics = new(StringComparer.Ordinal);

    /// <summary>Throws <see cref="InvalidOperationException"/> for registrations daprd could not tell apart.</summary>
    public SubscribeDocument(IEnumerable<SubscriptionDescriptor> subscriptions, string pubSubName)
    {
        var entries = new List<Entry>();
        foreach (var topic in subscriptions.GroupBy(s => s.Topic, StringComparer.Ordinal))
        {
            var defaults = topic.Where(s => s.Rule is null).ToList();
            if (defaults.Count > 1)
            {
                throw new InvalidOperationException($"Topic '{topic.Key}' is subscribed more than once; one app gets one route per topic (add a routing rule to tell them apart).");
            }

            var rules = topic.Where(s => s.Rule is not null).OrderBy(s => s.Rule!.Priority).ToList();
            if (rules.GroupBy(s => s.Rule!.Priority).FirstOrDefault(g => g.Count() > 1) is { } clash)
            {
                throw new InvalidOperationException($"Topic '{topic.Key}' has two routing rules of priority {clash.Key}; daprd would try them in an arbitrary order.");
            }

            // bulkSubscribe belongs to the whole subscription: every route of the topic then receives batches (§2.5).
            var bulk = topic.Select(s => s.BulkSubscribe).Where(b => b is not null).Distinct().ToList();
            if (bulk.Count > 1)
            {
                throw new InvalidOperationException($"Topic '{topic.Key}' is given two different bulk subscribe settings; it has one subscription.");
            }

            if (bulk.Count == 1)
            {
                _bulkTopics.Add(topic.Key);
            }

            var first = topic.First();
            var @default = defaults.SingleOrDefault()?.Route;
            entries.Add(new Entry(
                pubSubName,
                topic.Key,
                Route: rules.Count == 0 ? @default : null,
                Routes: rules.Count == 0 ? null : new Routes([.. rules.Select(r => new Rule(r.Rule!.Match, r.Route))], @default),
                Metadata: null,
                // A dead letter is never dead-lettered again: daprd would republish a dropped one to the same topic.
                DeadLetterTopic: topic.Key == first.DeadLetterTopic ? null : first.DeadLetterTopic,
                BulkSubscribe: bulk.Count == 1 ? new Bulk(Enabled: true, bulk[0]!.MaxMessagesCount, bulk[0]!.MaxAwaitDurationMs) : null));
        }

        Entries = [.. entries.OrderBy(e => e.PubsubName, StringComparer.Ordinal).ThenBy(e => e.Topic, StringComparer.Ordinal)];
    }

    /// <summary>Serialized with <see cref="MeshJson.Options"/>. Metadata values must be strings or daprd drops every subscription (§2.2).</summary>
    public IReadOnlyList<Entry> Entries { get; }

    /// <summary>Whether daprd delivers <paramref name="topic"/> in batches, to each of its routes.</summary>
    public bool IsBulk(string topic) => _bulkTopics.Contains(topic);

    // Property order as Dapr.AspNetCore writes it (§3).
    internal sealed record Entry(
        string PubsubName,
        string Topic,
        string? Route,
        Routes? Routes,
        IReadOnlyDictionary<string, string>? Metadata,
        string? DeadLetterTopic,
        Bulk? BulkSubscribe);

    internal sealed record Routes(IReadOnlyList<Rule> Rules, string? Default);

    internal sealed record Rule(string Match, string Path);

    internal sealed record Bulk(bool Enabled, int MaxMessagesCount, int MaxAwaitDurationMs);
}
