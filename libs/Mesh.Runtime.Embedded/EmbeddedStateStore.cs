using System.Collections.Concurrent;
using System.Text.Json;
using Mesh.Contracts;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// In-process state stores with the semantics of Dapr's in-memory store: values kept as JSON, an ETag per write
/// (a version number), a conflict when a given ETag no longer matches or names a missing key, TTL expiry on the
/// injected clock, and all-or-nothing transactions. Any store name is accepted. Reads are served from memory; with a
/// database (<see cref="EmbeddedRuntimeOptions.DataDirectory"/>) every store is loaded from it once, and a save, delete
/// or transaction returns once it is committed there (one database transaction per state transaction).
/// </summary>
public sealed class EmbeddedStateStore : IStateStore
{
    private readonly ConcurrentDictionary<string, Store> _stores = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private readonly EmbeddedDatabase _database;

    /// <summary>A store in memory only.</summary>
    public EmbeddedStateStore(TimeProvider clock)
        : this(clock, EmbeddedDatabase.MemoryOnly())
    {
    }

    internal EmbeddedStateStore(TimeProvider clock, EmbeddedDatabase database)
    {
        _clock = clock;
        _database = database;
        foreach (var (name, version) in database.StoreVersions)
        {
            GetStore(name).BumpVersion(version);
        }

        foreach (var e in database.TakeState())
        {
            var s = GetStore(e.Store);
            s.Entries[e.Key] = new Entry(e.Value, e.Version, e.ExpiresAt);
            s.BumpVersion(e.Version);
        }
    }

    public Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default)
    {
        var entry = Find(store, key);
        return Task.FromResult(entry is null ? null : new StateEntry<T>(Read<T>(store, key, entry), entry.ETag));
    }

    public Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        var results = new BulkStateEntry<T>[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            var entry = Find(store, keys[i]);
            results[i] = entry is null
                ? new BulkStateEntry<T>(keys[i], false, default, null)
                : new BulkStateEntry<T>(keys[i], true, Read<T>(store, keys[i], entry), entry.ETag);
        }

        return Task.FromResult<IReadOnlyList<BulkStateEntry<T>>>(results);
    }

    public Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var s = GetStore(store);
        lock (s.WriteLock)
        {
            if (!CanWrite(s, key, options))
            {
                throw new StateConflictException(store, key);
            }

            // Queued under the lock, so the file sees this store's writes in the order memory did.
            return _database.WriteAsync(Write(store, s, key, MeshJson.Serialize(value), options?.TimeToLive));
        }
    }

    public Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default)
    {
        var s = GetStore(store);
        lock (s.WriteLock)
        {
            if (etag is not null && Current(s, key)?.ETag != etag)
            {
                throw new StateConflictException(store, key);
            }

            return s.Entries.TryRemove(key, out _) ? _database.WriteAsync(new EmbeddedDatabase.DeleteState(store, key, s.Version)) : Task.CompletedTask;
        }
    }

    public Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        var s = GetStore(store);
        lock (s.WriteLock)
        {
            foreach (var op in operations)
            {
                var ok = op.Kind == StateOperationKind.Upsert
                    ? CanWrite(s, op.Key, op.Options)
                    : op.Options?.ETag is null || Current(s, op.Key)?.ETag == op.Options.ETag;
                if (!ok)
                {
                    throw new StateTransactionException($"Transaction on state store '{store}' failed: ETag mismatch on '{op.Key}'.");
                }
            }

            var writes = new List<EmbeddedDatabase.Write>(operations.Count);
            foreach (var op in operations)
            {
                if (op.Kind == StateOperationKind.Upsert)
                {
                    writes.Add(Write(store, s, op.Key, op.Value!, op.Options?.TimeToLive));
                }
                else if (s.Entries.TryRemove(op.Key, out _))
                {
                    writes.Add(new EmbeddedDatabase.DeleteState(store, op.Key, s.Version));
                }
            }

            return _database.WriteAsync(writes);
        }
    }

    /// <summary>Live keys in a store (expired ones excluded); for diagnostics and tests.</summary>
    public int Count(string store) => GetStore(store).Entries.Count(e => !IsExpired(e.Value));

    /// <summary>The live keys of a store that start with <paramref name="prefix"/>, with their JSON (what Dapr's state API cannot list).</summary>
    internal IReadOnlyList<KeyValuePair<string, byte[]>> Scan(string store, string prefix)
    {
        var s = GetStore(store);
        return [.. s.Entries
            .Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal) && !IsExpired(e.Value))
            .Select(e => KeyValuePair.Create(e.Key, e.Value.Data))];
    }

    private Store GetStore(string name) => _stores.GetOrAdd(name, _ => new Store());

    private Entry? Find(string store, string key) => Current(GetStore(store), key);

    private Entry? Current(Store s, string key)
    {
        if (!s.Entries.TryGetValue(key, out var entry))
        {
            return null;
        }

        if (!IsExpired(entry))
        {
            return entry;
        }

        // Remove only the expired entry we saw, never a fresh write that raced past it.
        s.Entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        return null;
    }

    private bool CanWrite(Store s, string key, StateWriteOptions? options)
    {
        var current = Current(s, key);
        if (options?.ETag is { } etag)
        {
            return current is not null && current.ETag == etag;
        }

        return !(options?.FirstWrite == true && current is not null);
    }

    private EmbeddedDatabase.SaveState Write(string store, Store s, string key, byte[] data, TimeSpan? ttl)
    {
        DateTimeOffset? expires = ttl is { } t && t > TimeSpan.Zero ? _clock.GetUtcNow() + t : null;
        var entry = new Entry(data, s.NextVersion(), expires);
        s.Entries[key] = entry;
        return new EmbeddedDatabase.SaveState(new StoredState(store, key, data, entry.Version, expires));
    }

    private bool IsExpired(Entry entry) => entry.ExpiresAt is { } expires && _clock.GetUtcNow() >= expires;

    private static T Read<T>(string store, string key, Entry entry)
    {
        try
        {
            return MeshJson.Deserialize<T>(entry.Data);
        }
        catch (JsonException e)
        {
            throw new StateStoreException($"The value of '{key}' in state store '{store}' is not a valid {typeof(T).Name}.", e);
        }
    }

    private sealed class Store
    {
        private long _version;

        public ConcurrentDictionary<string, Entry> Entries { get; } = new(StringComparer.Ordinal);
        public Lock WriteLock { get; } = new();

        public long Version => Interlocked.Read(ref _version);

        public long NextVersion() => Interlocked.Increment(ref _version);

        public void BumpVersion(long atLeast)
        {
            long seen;
            while ((seen = Interlocked.Read(ref _version)) < atLeast && Interlocked.CompareExchange(ref _version, atLeast, seen) != seen)
            {
            }
        }
    }

    private sealed record Entry(byte[] Data, long Version, DateTimeOffset? ExpiresAt)
    {
        public string ETag { get; } = Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
