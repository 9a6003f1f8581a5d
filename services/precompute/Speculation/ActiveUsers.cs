using Mesh.Contracts;
using Microsoft.Extensions.Options;

namespace Mesh.Precompute.Speculation;

/// <summary>
/// The speculator's memory: per user, the ads recently served to them (the likely candidates of their next request
/// in the session) and their latest embedding. Bounded in users and in ads per user.
/// </summary>
public sealed class ActiveUsers(IOptions<PrecomputeOptions> options, TimeProvider clock)
{
    private readonly Dictionary<string, UserState> _users = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public void RecordServed(string userId, IEnumerable<(string AdId, string Category)> ads)
    {
        lock (_lock)
        {
            var user = Touch(userId);
            foreach (var (adId, category) in ads)
            {
                user.Ads.Remove(adId);
                user.Ads[adId] = category;
            }

            // Dictionary keeps insertion order while nothing is removed mid-way; re-adding moves an ad to the end.
            while (user.Ads.Count > options.Value.AdsPerUser)
            {
                user.Ads.Remove(user.Ads.Keys.First());
            }
        }
    }

    public void RecordEmbedding(string userId, UserEmbedding embedding)
    {
        lock (_lock)
        {
            var user = Touch(userId);
            if (user.Embedding is null || embedding.ComputedAt >= user.Embedding.ComputedAt)
            {
                user.Embedding = embedding;
            }
        }
    }

    /// <summary>The ads to precompute for a user who is active now, and the embedding known for them (null if none yet).</summary>
    public (IReadOnlyList<(string AdId, string Category)> Ads, UserEmbedding? Embedding) Predict(string userId)
    {
        lock (_lock)
        {
            return _users.TryGetValue(userId, out var user)
                ? ([.. user.Ads.Select(a => (a.Key, a.Value))], user.Embedding)
                : ([], null);
        }
    }

    private UserState Touch(string userId)
    {
        if (!_users.TryGetValue(userId, out var user))
        {
            if (_users.Count >= options.Value.MaxUsers)
            {
                ForgetLeastRecent();
            }

            user = new UserState();
            _users[userId] = user;
        }

        user.LastActive = clock.GetUtcNow();
        return user;
    }

    private void ForgetLeastRecent()
    {
        // Amortised: drop the least recently active tenth at once rather than one user per insert.
        foreach (var id in _users.OrderBy(u => u.Value.LastActive).Take(Math.Max(1, _users.Count / 10)).Select(u => u.Key).ToList())
        {
            _users.Remove(id);
        }
    }

    private sealed class UserState
    {
        public Dictionary<string, string> Ads { get; } = new(StringComparer.Ordinal);
        public UserEmbedding? Embedding { get; set; }
        public DateTimeOffset LastActive { get; set; }
    }
}
