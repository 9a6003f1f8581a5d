using System.Net.Http.Json;
using System.Text.Json;
using Dapr.Client;
using Mesh.Contracts;
using Microsoft.AspNetCore.Http;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// <see cref="IServiceInvoker"/> as the SDK recommends it now that <c>DaprClient.InvokeMethodAsync</c> is obsolete: the
/// <see cref="HttpClient"/> of <see cref="DaprClient.CreateInvokeHttpClient"/>, which sends <c>http://{app-id}/{method}</c>
/// through the sidecar (with <c>dapr-api-token</c>). daprd relays the callee's status unchanged; a failure is an
/// <see cref="InvocationException"/> with that status, and an unreachable sidecar is 503.
/// </summary>
public sealed class DaprServiceInvoker(HttpClient http) : IServiceInvoker, IDisposable
{
    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string appId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsJsonAsync(new Uri($"http://{appId}/{method}"), request, MeshJson.Options, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new InvocationException(appId, method, StatusCodes.Status503ServiceUnavailable, "the Dapr sidecar is unreachable", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvocationException(appId, method, (int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
            }

            try
            {
                return await response.Content.ReadFromJsonAsync<TResponse>(MeshJson.Options, cancellationToken)
                    ?? throw new JsonException("The JSON value was null.");
            }
            catch (JsonException e)
            {
                throw new InvocationException(appId, method, (int)response.StatusCode, $"the response is not a valid {typeof(TResponse).Name}", e);
            }
        }
    }

    public void Dispose() => http.Dispose();
}
