using System.ComponentModel.DataAnnotations;

namespace Mesh.UserModel;

/// <summary>Settings of user-model (section <c>UserModel</c>).</summary>
public sealed class UserModelOptions
{
    /// <summary>
    /// Most recent events kept per user (by time of occurrence). The user tower reads the newest 16, which is also what
    /// is stored and served with the embedding; a longer log only widens the window in which a redelivered event is
    /// recognised. Default 16.
    /// </summary>
    [Range(1, 10_000)]
    public int HistoryLength { get; set; } = 16;

    /// <summary>How long a stored embedding lives without a refresh. Default 7 days.</summary>
    public TimeSpan EmbeddingTimeToLive { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// A user's activity log is dropped once the user has been quiet this long: the user actor's <c>expire</c>
    /// reminder checks every this long, so the log goes between one and two times this after the last event.
    /// Default 7 days.
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "3650.00:00:00")]
    public TimeSpan ActivityTimeToLive { get; set; } = TimeSpan.FromDays(7);
}
