using System.ComponentModel.DataAnnotations;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// How the embedded runtime hosts actors (section <c>EmbeddedActor</c>). Under Dapr, daprd decides these (its
/// <c>actorIdleTimeout</c> and <c>actorScanInterval</c>, and the component marked <c>actorStateStore</c>).
/// </summary>
public sealed class EmbeddedActorOptions
{
    /// <summary>An actor with no turn for this long is deactivated. Default 1 hour (Dapr's default).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often idle actors are looked for; an idle actor goes within this long after its timeout. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The state store that holds actor state (keys <c>appId||type||id||key</c>, as Dapr builds them) and reminders.
    /// Default <c>user-activity</c>, the store <c>components/</c> marks <c>actorStateStore</c>.
    /// </summary>
    [Required]
    public string StateStore { get; set; } = Contracts.Components.ActivityStore;
}
