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

    /// <summary>Remembers <paramref name="ads"/> as the user's most recent likely candidates, the last of them most recent; the least recent beyond <see cref="PrecomputeOptions.AdsPerUser"/> are forgotten.</summary>
    public void RecordServed(string userId, IEnumerable<(string AdId, string Category)> ads)
    {
        lock (_lock)
        {
            var user = Touch(userId);
            foreach (var (adId, category) in ads)
            {
                user.Ads[adId] = (category, ++user.Sequence);
            }

            // The least recently recorded go first. (Not the dictionary's enumeration order: a removal frees a slot that
            // the next insertion reuses, so that order is not the order of insertion.)
            var excess = user.Ads.Count - options.Value.AdsPerUser;
            if (excess > 0)
            {
                foreach (var adId in user.Ads.OrderBy(a => a.Value.Sequence).Take(excess).Select(a => a.Key).ToList())
                {
                    user.Ads.Remove(adId);
                }
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

    /// <summary>The ads to precompute for a user who is active now, least recently recorded first, and the embedding known for them (null if none yet).</summary>
    public (IReadOnlyList<(string AdId, string Category)> Ads, UserEmbedding? Embedding) Predict(string userId)
    {
        lock (_lock)
        {
            return _users.TryGetValue(userId, out var user)
                ? ([.. user.Ads.OrderBy(a => a.Value.Sequence).Select(a => (a.Key, a.Value.Category))], user.Embedding)
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
        /// <summary>Remembered ads: category, and when last recorded (a per-user counter).</summary>
        public Dictionary<string, (string Category, long Sequence)> Ads { get; } = new(StringComparer.Ordinal);

        public long Sequence { get; set; }
        public UserEmbedding? Embedding { get; set; }
        public DateTimeOffset LastActive { get; set; }
    }
}
