namespace Mesh.Bench.Replay;

/// <summary>One rank request of a replay: the impressions that share a request key (or one row), at the earliest of their times.</summary>
/// <param name="Index">0-based position in the replay.</param>
/// <param name="Time">Event time: the earliest of its rows'.</param>
/// <param name="UserId">The first row's user.</param>
/// <param name="Items">Its impressions, in event-time order.</param>
/// <param name="Context">The first row's context features (a request has one context).</param>
public sealed record ReplayRequest(int Index, DateTimeOffset Time, string UserId, IReadOnlyDictionary<string, FeatureValue> Context, IReadOnlyList<LogImpression> Items);

/// <summary>Puts a log's impressions in replay order.</summary>
public static class ReplayStream
{
    /// <summary>
    /// Sorts by event time (stable: rows with equal times keep their file order), then groups rows of one request key
    /// into one request, placed at its first row; without request keys every row is its own request.
    /// </summary>
    public static IReadOnlyList<ReplayRequest> Build(IEnumerable<LogImpression> impressions)
    {
        var sorted = impressions.OrderBy(i => i.Time).ToList();
        var groups = new List<List<LogImpression>>();
        var byKey = new Dictionary<string, List<LogImpression>>(StringComparer.Ordinal);
        foreach (var impression in sorted)
        {
            if (impression.RequestKey is { } key)
            {
                if (!byKey.TryGetValue(key, out var group))
                {
                    group = [];
                    byKey[key] = group;
                    groups.Add(group);
                }

                group.Add(impression);
            }
            else
            {
                groups.Add([impression]);
            }
        }

        return [.. groups.Select((g, i) => new ReplayRequest(i, g[0].Time, g[0].UserId, g[0].Context, g))];
    }
}
