using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Dapr;

/// <summary>One <c>POST {method}</c> per <see cref="MethodDescriptor"/>: what daprd calls when another app invokes it.</summary>
internal static class MethodEndpoints
{
    public static IEnumerable<IEndpointConventionBuilder> MapMethods(this IEndpointRouteBuilder endpoints, IEnumerable<MethodDescriptor> methods) =>
        methods.Select(method => endpoints.MapPost(method.Method, (HttpContext http, ILogger<MethodDescriptor> logger) => InvokeAsync(http, method, logger)));

    private static async Task<IResult> InvokeAsync(HttpContext http, MethodDescriptor method, ILogger logger)
    {
        var cancellationToken = http.RequestAborted;
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, cancellationToken);
        try
        {
            return TypedResults.Bytes(await method.Dispatch(http.RequestServices, body.ToArray(), cancellationToken), "application/json");
        }
        catch (Exception e) when (e is MalformedRequestException or InvalidInvocationException)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The caller gets this status through daprd unchanged; the details stay in this service's log.
            logger.LogError(e, "Method {Method} of {AppId} failed", method.Method, method.AppId);
            return TypedResults.Problem(title: $"Method '{method.Method}' failed.", statusCode: StatusCodes.Status500InternalServerError);
        }
    }
}
