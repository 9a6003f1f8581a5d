using Mesh.Contracts;
using System.Text.Json;

namespace Mesh.Runtime.Actors;

/// <summary>
/// One activation's state: a cache of what was read, plus the changes staged since the last save. Only ever used by one
/// turn at a time, so it needs no locking.
/// </summary>
internal sealed class ActorStateManager(string actorType, string actorId, Func<IActorBackend> backend) : IActorStateManager
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public async Task<T?> GetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        var entry = await LoadAsync(key, cancellationToken);
        if (entry.Json is null)
        {
            return default;
        }

        try
        {
            return MeshJson.Deserialize<T>(entry.Json);
        }
        catch (JsonException e)
        {
            throw new StateStoreException($"The state '{key}' of actor {actorType}/{actorId} is not a valid {typeof(T).Name}.", e);
        }
    }

    public async Task<bool> ContainsAsync(string key, CancellationToken cancellationToken = default) =>
        (await LoadAsync(key, cancellationToken)).Json is not null;

    public void Set<T>(string key, T value, TimeSpan? timeToLive = null)
    {
        ActorNames.ThrowIfInvalid(key, nameof(key));
        _entries[key] = new Entry(MeshJson.Serialize(value), Changed: true, timeToLive);
    }

    public void Remove(string key)
    {
        ActorNames.ThrowIfInvalid(key, nameof(key));

        // Known to be missing and nothing staged: there is nothing to delete.
        if (_entries.TryGetValue(key, out var entry) && entry is { Json: null, Changed: false })
        {
            return;
        }

        _entries[key] = new Entry(null, Changed: true, null);
    }

    public async Task SaveAsync(CancellationToken cancellationToken = default)
    {
        var changes = _entries
            .Where(e => e.Value.Changed)
            .Select(e => new ActorStateChange(e.Key, e.Value.Json, e.Value.TimeToLive))
            .ToList();
        if (changes.Count == 0)
        {
            return;
        }

        await backend().SaveStateAsync(actorType, actorId, changes, cancellationToken);
        foreach (var change in changes)
        {
            _entries[change.Key] = new Entry(change.Value, Changed: false, null);
        }
    }

    /// <summary>Forgets cache and staged changes, so the next read goes to the store (after a failed turn).</summary>
    public void Discard() => _entries.Clear();

    private async Task<Entry> LoadAsync(string key, CancellationToken cancellationToken)
    {
        ActorNames.ThrowIfInvalid(key, nameof(key));
        if (!_entries.TryGetValue(key, out var entry))
        {
            entry = new Entry(await backend().GetStateAsync(actorType, actorId, key, cancellationToken), Changed: false, null);
            _entries[key] = entry;
        }

        return entry;
    }

    /// <summary>A key's JSON (null: missing or removed), whether it awaits saving, and the TTL to save it with.</summary>
    private sealed record Entry(byte[]? Json, bool Changed, TimeSpan? TimeToLive);
}
