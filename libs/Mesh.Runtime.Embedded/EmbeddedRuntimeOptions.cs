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

    /// <summary>
    /// How long shutdown waits for queued events to be delivered. Default 10 s. With a <see cref="DataDirectory"/>, what
    /// is still queued then stays in the database and is delivered after the next start.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Folder of the SQLite database (<c>mesh.db</c>, with <c>mesh.db-wal</c> beside it while the host runs) that holds
    /// the state stores (actor state and reminders included) and the events not yet delivered, so a restart, or a
    /// restart after a crash, resumes where the host stopped. Created when missing. Null or empty: memory only, no file
    /// at all. Default null (the standalone host sets it from <c>Standalone:DataDirectory</c>, <c>data</c>).
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>
    /// SQLite's <c>synchronous</c> setting, which decides what a power loss or an operating-system crash may cost; a
    /// crash of the process alone (<c>kill -9</c>) loses nothing committed either way. <see cref="DatabaseSynchronous.Normal"/>
    /// (default): a commit reaches the operating system before the write returns and the disk at each checkpoint, so
    /// a power loss may roll back the writes since the last checkpoint. <see cref="DatabaseSynchronous.Full"/>: every
    /// commit waits for the disk (an fsync per group commit).
    /// </summary>
    public DatabaseSynchronous Synchronous { get; set; } = DatabaseSynchronous.Normal;

    /// <summary>
    /// Most writes (a state save, delete or transaction, a published event, a delivered event's removal) committed in
    /// one database transaction: one writer commits whatever is pending together and then answers all of their callers
    /// (group commit). 1 commits each write alone. Default 512 writes.
    /// </summary>
    [Range(1, 100_000)]
    public int WriteBatchSize { get; set; } = 512;
}

/// <summary>The values of SQLite's <c>PRAGMA synchronous</c> that keep a committed write through a crash of the process.</summary>
public enum DatabaseSynchronous
{
    /// <summary>Synced to disk at WAL checkpoints only: a power loss may lose the last commits, never the file's consistency.</summary>
    Normal,

    /// <summary>Synced to disk at every commit: a power loss loses nothing that was committed.</summary>
    Full,
}
