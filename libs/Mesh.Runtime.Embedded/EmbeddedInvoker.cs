using System.Diagnostics;
using Mesh.Contracts;
using Mesh.Runtime.Telemetry;
using Microsoft.AspNetCore.Http;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// Service invocation inside one process. Requests and responses still go through JSON, so the callee never shares
/// an object with the caller and the cost of the wire shape stays visible. Status codes follow Dapr's: 404 for an
/// unknown app or method, 400 for a request the callee refuses, 500 when the callee fails. Each call is a client span;
/// the callee runs in it, so its own spans join the caller's trace as they would through daprd.
/// </summary>
public sealed class EmbeddedInvoker(IEnumerable<MethodDescriptor> methods, IServiceProvider services) : IServiceInvoker
{
    private readonly Dictionary<(string, string), MethodDescriptor> _methods = methods.ToDictionary(m => (m.AppId, m.Method));

    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string appId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        if (!_methods.TryGetValue((appId, method), out var descriptor))
        {
            throw new InvocationException(appId, method, StatusCodes.Status404NotFound, "no such app or method");
        }

        using var activity = MeshTelemetry.Source(MeshTelemetry.RuntimeName).StartActivity($"{appId}/{method}", ActivityKind.Client);
        activity?.SetTag("rpc.system", "dapr");
        activity?.SetTag("rpc.service", appId);
        activity?.SetTag("rpc.method", method);
        byte[] response;
        try
        {
            response = await descriptor.Dispatch(services, MeshJson.Serialize(request), cancellationToken);
        }
        catch (Exception e) when (e is MalformedRequestException or InvalidInvocationException)
        {
            throw new InvocationException(appId, method, StatusCodes.Status400BadRequest, e.Message, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvocationException(appId, method, StatusCodes.Status500InternalServerError, e.Message, e);
        }

        return MeshJson.Deserialize<TResponse>(response);
    }
}
