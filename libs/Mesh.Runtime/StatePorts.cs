using Mesh.Contracts;
namespace Mesh.Runtime;

/// <summary>
/// Key/value state with optimistic concurrency and TTL, after Dapr's state API. Values are stored as JSON.
/// Implemented by the Dapr sidecar client and by the embedded store.
/// </summary>
public interface IStateStore
{
    /// <summary>The value and its ETag, or null when the key is missing or expired.</summary>
    Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default);

    /// <summary>One result per key, in request order; <see cref="BulkStateEntry{T}.Found"/> is false for a missing key.</summary>
    Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Writes <paramref name="value"/>. Throws <see cref="StateConflictException"/> when <see cref="StateWriteOptions.ETag"/> no longer matches.</summary>
    Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a key (a missing key is not an error). Throws <see cref="StateConflictException"/> on an ETag mismatch.</summary>
    Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default);

    /// <summary>Applies all operations or none. Any failure, an ETag mismatch included, throws <see cref="StateTransactionException"/>.</summary>
    Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default);
}

/// <summary>A stored value with the ETag to pass back for a conditional write.</summary>
public sealed record StateEntry<T>(T Value, string ETag);

public sealed record BulkStateEntry<T>(string Key, bool Found, T? Value, string? ETag);

/// <summary>How a write is checked and how long it lives.</summary>
public sealed record StateWriteOptions
{
    /// <summary>Write only if the stored ETag still equals this. Null: no check (last write wins).</summary>
    public string? ETag { get; init; }

    /// <summary>Expire the key after this long. Null: never (or the store's default). Whole seconds on the wire.</summary>
    public TimeSpan? TimeToLive { get; init; }

    /// <summary>First-write: fail when the key exists and no ETag is given. Default: last-write.</summary>
    public bool FirstWrite { get; init; }
}

/// <summary>An upsert or delete inside <see cref="IStateStore.TransactAsync"/>.</summary>
public sealed record StateOperation
{
    private StateOperation(StateOperationKind kind, string key, byte[]? value, StateWriteOptions? options)
    {
        Kind = kind;
        Key = key;
        Value = value;
        Options = options;
    }

    public StateOperationKind Kind { get; }
    public string Key { get; }

    /// <summary>The JSON of the value, for an upsert.</summary>
    public byte[]? Value { get; }

    public StateWriteOptions? Options { get; }

    public static StateOperation Upsert<T>(string key, T value, StateWriteOptions? options = null) =>
        new(StateOperationKind.Upsert, key, MeshJson.Serialize(value), options);

    /// <summary>An upsert of a value that is JSON already (actor state, which is cached as JSON).</summary>
    internal static StateOperation UpsertJson(string key, byte[] json, StateWriteOptions? options = null) =>
        new(StateOperationKind.Upsert, key, json, options);

    public static StateOperation Delete(string key, string? etag = null) =>
        new(StateOperationKind.Delete, key, null, etag is null ? null : new StateWriteOptions { ETag = etag });
}

public enum StateOperationKind
{
    Upsert,
    Delete,
}

/// <summary>A state operation failed.</summary>
public class StateStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The ETag given no longer matches the stored one (Dapr: 409 on save or delete). Read again and retry.</summary>
public sealed class StateConflictException(string store, string key)
    : StateStoreException($"ETag mismatch on '{key}' in state store '{store}'.")
{
    public string Store { get; } = store;
    public string Key { get; } = key;
}

/// <summary>A transaction was refused or failed as a whole (Dapr: 500 ERR_STATE_TRANSACTION, ETag mismatches included).</summary>
public sealed class StateTransactionException(string message, Exception? inner = null) : StateStoreException(message, inner);
