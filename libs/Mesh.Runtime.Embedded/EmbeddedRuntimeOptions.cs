using System.ComponentModel.DataAnnotations;

namespace Mesh.Runtime.Embedded;

/// <summary>Settings of the in-process runtime (section <c>EmbeddedRuntime</c>).</summary>
public sealed class EmbeddedRuntimeOptions
{
    /// <summary>Events a subscription may hold before a publisher waits (back-pressure). Default 10,000.</summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Delivery attempts before an event is dead-lettered. Default 5.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Wait before the first redelivery; doubles each attempt up to <see cref="MaxBackoff"/>. Default 100 ms.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest wait between attempts. Default 5 s.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long shutdown waits for queued events to be delivered. Default 10 s.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Folder where state stores and undelivered events persist across restarts. Null: memory only.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>How often state is written to <see cref="DataDirectory"/>, besides at shutdown. Default 15 s.</summary>
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromSeconds(15);
}
