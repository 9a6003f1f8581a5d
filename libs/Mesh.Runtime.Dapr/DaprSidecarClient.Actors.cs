using Mesh.Contracts;
using System.Net;
using System.Text.Json;
using Mesh.Runtime.Actors;
using Microsoft.AspNetCore.Http;

namespace Mesh.Runtime.Dapr;

// The actor half of the sidecar API (§1.7): invoking actors, their state and their reminders.
public sealed partial class DaprSidecarClient
{
    /// <summary>
    /// Posts <paramref name="request"/> as JSON to <c>/v1.0/actors/{type}/{id}/method/{method}</c>. daprd answers with the
    /// actor's 200 and body; an actor failure is a 200 carrying <c>X-DaprErrorResponseHeader</c> (see
    /// <see cref="DaprAppEndpoints"/>), and any other daprd error a non-2xx. Both become an <see cref="ActorInvocationException"/>.
    /// </summary>
    public async Task<TResponse> InvokeActorAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        if (!ActorNames.IsValid(actorId))
        {
            throw new ActorInvocationException(actorType, actorId, method, StatusCodes.Status400BadRequest, "an actor id must be non-empty and contain no '||'");
        }

        using var message = JsonRequest(HttpMethod.Post, $"{ActorPath(actorType, actorId)}/method/{Escape(method)}", MeshJson.Serialize(request));
        using var response = await SendAsync(
            message,
            e => new ActorInvocationException(actorType, actorId, method, StatusCodes.Status503ServiceUnavailable, $"the Dapr sidecar at {Endpoint} is unreachable", e),
            cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // daprd folds every non-200 from the actor's app into 500 ERR_ACTOR_INVOKE_METHOD, the body inside its message.
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new ActorInvocationException(actorType, actorId, method, error.Status, error.ToString());
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (response.Headers.Contains(DaprAppEndpoints.ActorErrorHeader))
        {
            var (status, detail) = ActorError.Read(body);
            throw new ActorInvocationException(actorType, actorId, method, status, detail);
        }

        try
        {
            return MeshJson.Deserialize<TResponse>(body);
        }
        catch (JsonException e)
        {
            throw new ActorInvocationException(actorType, actorId, method, (int)response.StatusCode, $"the response is not a valid {typeof(TResponse).Name}", e);
        }
    }

    Task<TResponse> IActorInvoker.InvokeAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken) =>
        InvokeActorAsync<TRequest, TResponse>(actorType, actorId, method, request, cancellationToken);

    async Task<byte[]?> IActorBackend.GetStateAsync(string actorType, string actorId, string key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{ActorPath(actorType, actorId)}/state/{Escape(key)}");
        using var response = await SendActorAsync(request, cancellationToken);

        // As for plain state, a missing key is 204 with an empty body (§1.7).
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new StateStoreException($"Getting state '{key}' of actor {actorType}/{actorId} failed: {error}");
        }

        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    async Task IActorBackend.SaveStateAsync(string actorType, string actorId, IReadOnlyList<ActorStateChange> changes, CancellationToken cancellationToken)
    {
        // A bare array of operations, unlike the state API's {"operations":[…]} (§1.7). Items are the state API's save
        // items, so the TTL travels as metadata "ttlInSeconds" with a string value.
        var body = WriteJson(w =>
        {
            w.WriteStartArray();
            foreach (var change in changes)
            {
                w.WriteStartObject();
                w.WriteString("operation", change.Value is null ? "delete" : "upsert");
                w.WritePropertyName("request");
                WriteSaveItem(w, change.Key, change.Value, change.TimeToLive is { } ttl ? new StateWriteOptions { TimeToLive = ttl } : null);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
        using var request = JsonRequest(HttpMethod.Post, $"{ActorPath(actorType, actorId)}/state", body);
        using var response = await SendActorAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new StateTransactionException($"Saving the state of actor {actorType}/{actorId} failed: {error}");
        }
    }

    async Task IActorBackend.RegisterReminderAsync(string actorType, string actorId, string name, ActorReminder reminder, CancellationToken cancellationToken)
    {
        var body = WriteJson(w =>
        {
            w.WriteStartObject();
            w.WriteString("dueTime", DaprDuration.Format(reminder.DueTime));

            // An empty period fires once (§1.7).
            w.WriteString("period", reminder.Period is { } period ? DaprDuration.Format(period) : string.Empty);
            if (reminder.Data is { } data)
            {
                w.WritePropertyName("data");
                w.WriteRawValue(data, skipInputValidation: true);
            }

            w.WriteEndObject();
        });
        using var request = JsonRequest(HttpMethod.Post, $"{ActorPath(actorType, actorId)}/reminders/{Escape(name)}", body);
        using var response = await SendActorAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new DaprSidecarException($"Registering reminder '{name}' of actor {actorType}/{actorId} failed: {error}", error.Status, error.ErrorCode);
        }
    }

    async Task IActorBackend.UnregisterReminderAsync(string actorType, string actorId, string name, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"{ActorPath(actorType, actorId)}/reminders/{Escape(name)}");
        using var response = await SendActorAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new DaprSidecarException($"Deleting reminder '{name}' of actor {actorType}/{actorId} failed: {error}", error.Status, error.ErrorCode);
        }
    }

    private Task<HttpResponseMessage> SendActorAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        SendAsync(request, e => new DaprSidecarException($"Actor API: the Dapr sidecar at {Endpoint} is unreachable.", inner: e), cancellationToken);

    private static string ActorPath(string actorType, string actorId) => $"v1.0/actors/{Escape(actorType)}/{Escape(actorId)}";
}
