using System.Globalization;
using System.Text;

namespace Mesh.Runtime.Actors;

/// <summary>
/// What a runtime provides to actors besides turns: where their state lives and who keeps their reminders. The Dapr
/// runtime forwards to daprd's actor API (§1.7); the embedded one keeps both in process.
/// </summary>
internal interface IActorBackend
{
    /// <summary>The JSON of <paramref name="key"/>, or null when it is missing.</summary>
    Task<byte[]?> GetStateAsync(string actorType, string actorId, string key, CancellationToken cancellationToken);

    /// <summary>Applies all changes as one transaction.</summary>
    Task SaveStateAsync(string actorType, string actorId, IReadOnlyList<ActorStateChange> changes, CancellationToken cancellationToken);

    Task RegisterReminderAsync(string actorType, string actorId, string name, ActorReminder reminder, CancellationToken cancellationToken);

    Task UnregisterReminderAsync(string actorType, string actorId, string name, CancellationToken cancellationToken);
}

/// <summary>An upsert (<see cref="Value"/> set) or a delete (<see cref="Value"/> null) of one actor state key.</summary>
internal sealed record ActorStateChange(string Key, byte[]? Value, TimeSpan? TimeToLive);

/// <summary>A reminder's schedule: first due after <see cref="DueTime"/>, then every <see cref="Period"/> (null: once).</summary>
internal sealed record ActorReminder(TimeSpan DueTime, TimeSpan? Period, byte[]? Data);

/// <summary>Durations as Go's <c>time.ParseDuration</c> reads them, which is what daprd parses (§1.7, §2.7).</summary>
internal static class DaprDuration
{
    /// <summary>Compact Go form to the millisecond: <c>1h</c>, <c>30s</c>, <c>1m30s</c>, <c>1s500ms</c>, <c>0s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Dapr durations are not negative.");
        }

        var text = new StringBuilder();
        Append(text, (long)value.TotalHours, "h");
        Append(text, value.Minutes, "m");
        Append(text, value.Seconds, "s");
        Append(text, value.Milliseconds, "ms");
        return text.Length == 0 ? "0s" : text.ToString();
    }

    private static void Append(StringBuilder text, long amount, string unit)
    {
        if (amount != 0)
        {
            text.Append(amount.ToString(CultureInfo.InvariantCulture)).Append(unit);
        }
    }
}
