using System.Globalization;
using Dapr;
using Dapr.Client;
using Grpc.Core;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// <see cref="IStateStore"/> over <see cref="DaprClient"/> (gRPC to the sidecar). Values are JSON written with the
/// client's serializer options, which are the mesh's (<c>MeshJson</c>).
/// </summary>
public sealed class DaprStateStore(DaprClient dapr) : IStateStore
{
    // Keys daprd reads at once for a bulk get; the SDK's default (0) leaves it to daprd.
    private const int BulkGetParallelism = 10;

    public async Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default)
    {
        var (value, etag) = await Call(() => dapr.GetStateAndETagAsync<T>(store, key, cancellationToken: cancellationToken), store, key);

        // daprd answers a missing (or expired) key with empty data, which the SDK reads as default.
        return value is null ? null : new StateEntry<T>(value, etag ?? string.Empty);
    }

    public async Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        var items = await Call(() => dapr.GetBulkStateAsync<T>(store, keys, BulkGetParallelism, cancellationToken: cancellationToken), store, key: null);

        // daprd answers in request order; matching on the key keeps a reordered answer correct too.
        var byKey = items.GroupBy(i => i.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        return [.. keys.Select(k => byKey.TryGetValue(k, out var item) && item.Value is not null
            ? new BulkStateEntry<T>(k, true, item.Value, item.ETag)
            : new BulkStateEntry<T>(k, false, default, null))];
    }

    public async Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var stateOptions = ToStateOptions(options);
        var metadata = ToMetadata(options);
        if (options?.ETag is { } etag)
        {
            if (!await Call(() => dapr.TrySaveStateAsync(store, key, value, etag, stateOptions, metadata, cancellationToken), store, key))
            {
                throw new StateConflictException(store, key);
            }

            return;
        }

        await Call(() => dapr.SaveStateAsync(store, key, value, stateOptions, metadata, cancellationToken), store, key);
    }

    public async Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default)
    {
        if (etag is null)
        {
            await Call(() => dapr.DeleteStateAsync(store, key, cancellationToken: cancellationToken), store, key);
        }
        else if (!await Call(() => dapr.TryDeleteStateAsync(store, key, etag, ToStateOptions(new StateWriteOptions { ETag = etag }), cancellationToken: cancellationToken), store, key))
        {
            throw new StateConflictException(store, key);
        }
    }

    public async Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        if (operations.Count == 0)
        {
            return;
        }

        var requests = operations.Select(op => new StateTransactionRequest(
            op.Key,
            op.Value,
            op.Kind == StateOperationKind.Upsert ? StateOperationType.Upsert : StateOperationType.Delete,
            op.Options?.ETag,
            ToMetadata(op.Options),
            ToStateOptions(op.Options))).ToList();
        try
        {
            await dapr.ExecuteStateTransactionAsync(store, requests, cancellationToken: cancellationToken);
        }
        catch (DaprException e)
        {
            // Inside a transaction an ETag mismatch is one more failure of the whole (daprd: ERR_STATE_TRANSACTION).
            throw new StateTransactionException($"Transaction on state store '{store}' failed: {Detail(e)}", e);
        }
    }

    // Under last-write Redis ignores the etag, so a checked write says first-write.
    private static StateOptions? ToStateOptions(StateWriteOptions? options) =>
        options is { ETag: not null } or { FirstWrite: true } ? new StateOptions { Concurrency = ConcurrencyMode.FirstWrite } : null;

    // Metadata values are strings ("ttlInSeconds":"3"); -1 means never expire.
    private static Dictionary<string, string>? ToMetadata(StateWriteOptions? options) =>
        options?.TimeToLive is { } ttl
            ? new() { ["ttlInSeconds"] = (ttl <= TimeSpan.Zero ? -1 : (long)Math.Ceiling(ttl.TotalSeconds)).ToString(CultureInfo.InvariantCulture) }
            : null;

    private static async Task<TResult> Call<TResult>(Func<Task<TResult>> call, string store, string? key)
    {
        try
        {
            return await call();
        }
        catch (DaprException e) when (key is not null && e.InnerException is RpcException { StatusCode: StatusCode.Aborted })
        {
            // Aborted is daprd's ETag mismatch, also for a first-write save of a key that exists.
            throw new StateConflictException(store, key);
        }
        catch (DaprException e)
        {
            var subject = key is null ? string.Empty : $" of '{key}'";
            throw new StateStoreException($"State operation{subject} in state store '{store}' failed: {Detail(e)}", e);
        }
    }

    private static Task<bool> Call(Func<Task> call, string store, string key) =>
        Call(async () =>
        {
            await call();
            return true;
        }, store, key);

    private static string Detail(DaprException e) =>
        e.InnerException is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
}
