namespace Mesh.Runtime.Faults;

/// <summary>A state store that is down during the configured outage (<see cref="FaultInjector.BeforeStoreCall"/>) and otherwise the one it wraps.</summary>
internal sealed class FaultyStateStore(IStateStore inner, FaultInjector faults) : IStateStore
{
    public Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default)
    {
        faults.BeforeStoreCall(store);
        return inner.GetAsync<T>(store, key, cancellationToken);
    }

    public Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        faults.BeforeStoreCall(store);
        return inner.GetBulkAsync<T>(store, keys, cancellationToken);
    }

    public Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        faults.BeforeStoreCall(store);
        return inner.SaveAsync(store, key, value, options, cancellationToken);
    }

    public Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default)
    {
        faults.BeforeStoreCall(store);
        return inner.DeleteAsync(store, key, etag, cancellationToken);
    }

    public Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        faults.BeforeStoreCall(store);
        return inner.TransactAsync(store, operations, cancellationToken);
    }
}

/// <summary>Service invocation that is slow or fails as configured (<see cref="FaultInjector.BeforeInvocationAsync"/>) before the call it wraps.</summary>
internal sealed class FaultyServiceInvoker(IServiceInvoker inner, FaultInjector faults) : IServiceInvoker
{
    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string appId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        await faults.BeforeInvocationAsync(appId, method, cancellationToken);
        return await inner.InvokeAsync<TRequest, TResponse>(appId, method, request, cancellationToken);
    }
}
