using System.Text.Json;
using Dapr.Actors.Runtime;
using Mesh.Contracts;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// One activation's state, with the semantics of the SDK's own state manager: what was read is cached for the
/// activation, changes are staged and saved as one transaction (<see cref="IStateStore.TransactAsync"/>) when the turn
/// ends successfully, and dropped (<see cref="ClearCacheAsync"/>) when it throws. Keys are Dapr's,
/// <c>appId||type||id||name</c>. A TTL given here is honoured on the store's clock, in the cache and in the store. Limit:
/// a value read from the store carries no expiry through the <see cref="IStateStore"/> port, so one written with a TTL by
/// an earlier activation stays readable from the cache until this activation ends. Used by one turn at a time, so it
/// needs no locking.
/// </summary>
internal sealed class EmbeddedActorStateManager(IStateStore store, string storeName, string keyPrefix, TimeProvider clock) : IActorStateManager
{
    private readonly Dictionary<string, Entry> _tracker = new(StringComparer.Ordinal);

    public async Task<ConditionalValue<T>> TryGetStateAsync<T>(string stateName, CancellationToken cancellationToken = default)
    {
        if (_tracker.TryGetValue(stateName, out var entry))
        {
            return IsLive(entry) ? new ConditionalValue<T>(true, (T)entry.Value!) : default;
        }

        var stored = await store.GetAsync<T>(storeName, Key(stateName), cancellationToken);
        if (stored is null)
        {
            return default;
        }

        _tracker[stateName] = new Entry(stored.Value, typeof(T), Change.None, null);
        return new ConditionalValue<T>(true, stored.Value);
    }

    public async Task<T> GetStateAsync<T>(string stateName, CancellationToken cancellationToken = default)
    {
        var value = await TryGetStateAsync<T>(stateName, cancellationToken);
        return value.HasValue ? value.Value : throw new KeyNotFoundException($"Actor state '{stateName}' was not found.");
    }

    public Task SetStateAsync<T>(string stateName, T value, CancellationToken cancellationToken = default)
    {
        Set(stateName, value, null);
        return Task.CompletedTask;
    }

    public Task SetStateAsync<T>(string stateName, T value, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        Set(stateName, value, ttl);
        return Task.CompletedTask;
    }

    public Task<bool> TryAddStateAsync<T>(string stateName, T value, CancellationToken cancellationToken = default) =>
        TryAddAsync(stateName, value, null, cancellationToken);

    public Task<bool> TryAddStateAsync<T>(string stateName, T value, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        TryAddAsync(stateName, value, ttl, cancellationToken);

    public async Task AddStateAsync<T>(string stateName, T value, CancellationToken cancellationToken = default)
    {
        if (!await TryAddStateAsync(stateName, value, cancellationToken))
        {
            throw new InvalidOperationException($"Actor state '{stateName}' already exists.");
        }
    }

    public async Task AddStateAsync<T>(string stateName, T value, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        if (!await TryAddStateAsync(stateName, value, ttl, cancellationToken))
        {
            throw new InvalidOperationException($"Actor state '{stateName}' already exists.");
        }
    }

    public async Task<T> GetOrAddStateAsync<T>(string stateName, T value, CancellationToken cancellationToken = default)
    {
        var current = await TryGetStateAsync<T>(stateName, cancellationToken);
        if (current.HasValue)
        {
            return current.Value;
        }

        Set(stateName, value, null);
        return value;
    }

    public async Task<T> GetOrAddStateAsync<T>(string stateName, T value, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var current = await TryGetStateAsync<T>(stateName, cancellationToken);
        if (current.HasValue)
        {
            return current.Value;
        }

        Set(stateName, value, ttl);
        return value;
    }

    public Task<T> AddOrUpdateStateAsync<T>(string stateName, T addValue, Func<string, T, T> updateValueFactory, CancellationToken cancellationToken = default) =>
        AddOrUpdateAsync(stateName, addValue, updateValueFactory, null, cancellationToken);

    public Task<T> AddOrUpdateStateAsync<T>(string stateName, T addValue, Func<string, T, T> updateValueFactory, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        AddOrUpdateAsync(stateName, addValue, updateValueFactory, ttl, cancellationToken);

    public async Task<bool> ContainsStateAsync(string stateName, CancellationToken cancellationToken = default) =>
        _tracker.TryGetValue(stateName, out var entry)
            ? IsLive(entry)
            : await store.GetAsync<JsonElement>(storeName, Key(stateName), cancellationToken) is not null;

    public async Task<bool> TryRemoveStateAsync(string stateName, CancellationToken cancellationToken = default)
    {
        if (!await ContainsStateAsync(stateName, cancellationToken))
        {
            return false;
        }

        _tracker[stateName] = new Entry(null, typeof(object), Change.Remove, null);
        return true;
    }

    public async Task RemoveStateAsync(string stateName, CancellationToken cancellationToken = default)
    {
        if (!await TryRemoveStateAsync(stateName, cancellationToken))
        {
            throw new KeyNotFoundException($"Actor state '{stateName}' was not found.");
        }
    }

    public Task UnloadStateAsync(string stateName, UnloadStateOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (_tracker.TryGetValue(stateName, out var entry) && entry.Change != Change.None && options?.AllowUnloadingWhenStateModified != true)
        {
            throw new InvalidOperationException($"Actor state '{stateName}' has changes not yet saved.");
        }

        _tracker.Remove(stateName);
        return Task.CompletedTask;
    }

    public Task ClearCacheAsync(CancellationToken cancellationToken = default)
    {
        _tracker.Clear();
        return Task.CompletedTask;
    }

    public async Task SaveStateAsync(CancellationToken cancellationToken = default)
    {
        var changed = _tracker.Where(e => e.Value.Change != Change.None).ToList();
        if (changed.Count == 0)
        {
            return;
        }

        var now = clock.GetUtcNow();
        var operations = changed.Select(e => e.Value.Change == Change.Remove || e.Value.ExpiresAt <= now
            ? StateOperation.Delete(Key(e.Key))
            : StateOperation.UpsertJson(
                Key(e.Key),
                JsonSerializer.SerializeToUtf8Bytes(e.Value.Value, e.Value.Type, MeshJson.Options),
                e.Value.ExpiresAt is { } expires ? new StateWriteOptions { TimeToLive = expires - now } : null)).ToList();

        // Marked saved only once the transaction succeeded: a failed save keeps them for a retry, as the SDK does.
        await store.TransactAsync(storeName, operations, cancellationToken);
        foreach (var (name, entry) in changed)
        {
            if (entry.Change == Change.Remove)
            {
                _tracker.Remove(name);
            }
            else
            {
                _tracker[name] = entry with { Change = Change.None };
            }
        }
    }

    private async Task<T> AddOrUpdateAsync<T>(string stateName, T addValue, Func<string, T, T> update, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        var current = await TryGetStateAsync<T>(stateName, cancellationToken);
        var value = current.HasValue ? update(stateName, current.Value) : addValue;
        Set(stateName, value, ttl);
        return value;
    }

    private async Task<bool> TryAddAsync<T>(string stateName, T value, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        if (await ContainsStateAsync(stateName, cancellationToken))
        {
            return false;
        }

        Set(stateName, value, ttl);
        return true;
    }

    private void Set<T>(string stateName, T value, TimeSpan? ttl)
    {
        Key(stateName);
        _tracker[stateName] = new Entry(value, typeof(T), Change.Set, ttl is { } t ? clock.GetUtcNow() + t : null);
    }

    private bool IsLive(Entry entry) => entry.Change != Change.Remove && !(entry.ExpiresAt <= clock.GetUtcNow());

    private string Key(string stateName)
    {
        // Dapr refuses "||" inside an actor state key: it separates the parts of the stored key.
        ArgumentException.ThrowIfNullOrEmpty(stateName);
        if (stateName.Contains("||", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Actor state name '{stateName}' contains '||'.", nameof(stateName));
        }

        return keyPrefix + stateName;
    }

    private enum Change
    {
        None,
        Set,
        Remove,
    }

    /// <summary>A cached value (as the actor last saw it), whether it awaits saving, and when it expires.</summary>
    private sealed record Entry(object? Value, Type Type, Change Change, DateTimeOffset? ExpiresAt);
}
