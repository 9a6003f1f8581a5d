using System.ComponentModel.DataAnnotations;

namespace Mesh.Runtime.Actors;

/// <summary>
/// How actors are hosted (section <c>ActorRuntime</c>). Under Dapr these go to daprd in <c>GET /dapr/config</c> and
/// daprd applies them; the embedded runtime applies them itself.
/// </summary>
public sealed class ActorRuntimeOptions
{
    /// <summary>An actor with no turn for this long is deactivated. Default 1 hour (Dapr's default).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often idle actors are looked for; an idle actor goes within this long after its timeout. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long deactivation (rebalancing under Dapr, shutdown when embedded) waits for turns in progress. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan DrainOngoingCallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Dapr: drain actors moving to another replica before deactivating them. Default true.</summary>
    public bool DrainRebalancedActors { get; set; } = true;

    /// <summary>
    /// Embedded runtime only: the state store holding actor state and reminders. Under Dapr the sidecar uses the one
    /// component marked <c>actorStateStore: "true"</c>. Default <c>user-activity</c>, the store that component is.
    /// </summary>
    [Required]
    public string StateStore { get; set; } = Contracts.Components.ActivityStore;
}
