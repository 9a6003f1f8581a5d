using System.ComponentModel.DataAnnotations;

namespace Mesh.Router.Api;

/// <summary>
/// Who may call the public API (<c>/v1/rank</c>, <c>/v1/events</c>, <c>/v1/feedback</c>) and how often (section
/// <c>ApiAccess</c>). Both checks are off by default, which suits a developer's own machine; a deployment turns them on
/// (<c>deploy/</c>, docs/operations.md).
/// </summary>
public sealed class ApiAccessOptions
{
    /// <summary>The header a client presents its key in.</summary>
    public const string KeyHeader = "X-Api-Key";

    /// <summary>
    /// Client name to API key. Empty (default): no key is asked for. Otherwise every public request must carry one of
    /// these keys in <see cref="KeyHeader"/>, or it is answered 401; the client's name is who the rate limit counts. In
    /// Kubernetes the keys come from a Secret, one environment variable per client (<c>ApiAccess__Keys__partner_a</c>).
    /// </summary>
    public Dictionary<string, string> Keys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Requests each client may make per <see cref="ReplenishmentPeriod"/> on average; 0 (default) turns the limiter
    /// off. A client is its key's name, or its remote address when no keys are configured. Over the limit: 429 with
    /// <c>Retry-After</c>.
    /// </summary>
    [Range(0, 10_000_000)]
    public int TokensPerPeriod { get; set; }

    /// <summary>How often a client's bucket is refilled with <see cref="TokensPerPeriod"/>. Default 1 s.</summary>
    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The most requests a client may make at once, its bucket's size (the burst above the average). Default 200.</summary>
    [Range(1, 10_000_000)]
    public int TokenLimit { get; set; } = 200;
}
