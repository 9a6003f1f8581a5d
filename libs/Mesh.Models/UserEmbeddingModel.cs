using Mesh.Contracts;

namespace Mesh.Models;

/// <summary>
/// User tower placeholder (SUM's role): a time-decayed, action-weighted mean of the category vectors of a user's
/// recent items. Deterministic; <see cref="Version"/> changes whenever the computation does.
/// </summary>
public sealed class UserEmbeddingModel(TimeSpan halfLife)
{
    public const long Version = 1;

    /// <summary>The embedding of a user with no history: all zeros, which the rankers see in training too.</summary>
    public static float[] Default { get; } = new float[ItemVectors.Dimension];

    /// <param name="events">The user's recent activity, any order.</param>
    /// <param name="now">Decay reference time.</param>
    public float[] Compute(IReadOnlyCollection<UserActivity> events, DateTimeOffset now)
    {
        var v = new float[ItemVectors.Dimension];
        var total = 0.0;
        foreach (var e in events)
        {
            var age = Math.Max(0, (now - e.OccurredAt).TotalSeconds);
            var weight = KindWeight(e.Kind) * Math.Pow(0.5, age / halfLife.TotalSeconds);
            var c = ItemVectors.ForCategory(e.Category);
            for (var i = 0; i < v.Length; i++)
            {
                v[i] += (float)(weight * c[i]);
            }

            total += weight;
        }

        if (total > 0)
        {
            for (var i = 0; i < v.Length; i++)
            {
                v[i] /= (float)total;
            }
        }

        return v;
    }

    private static double KindWeight(UserActionKind kind) => kind switch
    {
        UserActionKind.Engage => 2.0,
        UserActionKind.Search => 1.5,
        _ => 1.0,
    };
}

/// <summary>One remembered user action, as user-model keeps it.</summary>
public sealed record UserActivity(string EventId, UserActionKind Kind, string ItemId, string Category, DateTimeOffset OccurredAt);
