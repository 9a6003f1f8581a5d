using System.ComponentModel.DataAnnotations;

namespace Mesh.UserModel;

/// <summary>Settings of user-model (section <c>UserModel</c>).</summary>
public sealed class UserModelOptions
{
    /// <summary>Most recent events kept per user. Default 64.</summary>
    [Range(1, 10_000)]
    public int HistoryLength { get; set; } = 64;

    /// <summary>Weight of an event halves every this long. Default 30 minutes.</summary>
    public TimeSpan HalfLife { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a stored embedding lives without a refresh. Default 7 days.</summary>
    public TimeSpan EmbeddingTimeToLive { get; set; } = TimeSpan.FromDays(7);

    /// <summary>ETag conflicts tolerated on one event before asking for a redelivery. Default 5.</summary>
    [Range(1, 100)]
    public int MaxConflictRetries { get; set; } = 5;
}
