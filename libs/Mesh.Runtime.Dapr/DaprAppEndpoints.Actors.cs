using Mesh.Contracts;
using System.Text.Json;
using Mesh.Runtime.Actors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

// The actor callbacks (§2.7). daprd places actors, keeps their turns and decides when they go idle; the app still
// serializes turns per id itself (ActorManager), which costs little and guards against a misbehaving caller.
public sealed partial class DaprAppEndpoints
{
    /// <summary>
    /// Marks an actor method's 200 answer as a failure, as the Dapr .NET SDK does. daprd relays such an answer to the
    /// caller as it is (status, header, body), while it would fold any non-200 into its own 500 ERR_ACTOR_INVOKE_METHOD,
    /// losing the status, and might retry it. The body is <c>{"status":400|500,"title":…,"detail":…}</c>.
    /// </summary>
    public const string ActorErrorHeader = "X-DaprErrorResponseHeader";

    private void MapActors(IEndpointRouteBuilder callbacks, IServiceProvider services)
    {
        var actors = services.GetRequiredService<ActorManager>();
        if (actors.Types.Count == 0)
        {
            // No /dapr/config at all: daprd reads a 404 as "this app hosts no actors" (§2.7).
            return;
        }

        var options = services.GetRequiredService<IOptions<ActorRuntimeOptions>>().Value;
        var config = new ActorConfig(
            [.. actors.Types.Select(t => t.ActorType)],
            DaprDuration.Format(options.IdleTimeout),
            DaprDuration.Format(options.ScanInterval),
            DaprDuration.Format(options.DrainOngoingCallTimeout),
            options.DrainRebalancedActors,
            new ReentrancyConfig(Enabled: false));
        callbacks.MapGet("dapr/config", () => TypedResults.Json(config, MeshJson.Options));

        // Three- and two-segment tails cannot collide with a method name, which is one segment.
        callbacks.MapPut("actors/{actorType}/{actorId}/method/remind/{reminder}", (HttpContext http, string actorType, string actorId, string reminder) =>
            RemindAsync(http, actors, actorType, actorId, reminder));
        callbacks.MapPut("actors/{actorType}/{actorId}/method/timer/{timer}", (HttpContext http, string actorType, string actorId, string timer) =>
            TimerAsync(http, actors, actorType, actorId, timer));
        callbacks.MapPut("actors/{actorType}/{actorId}/method/{method}", (HttpContext http, string actorType, string actorId, string method) =>
            InvokeActorAsync(http, actors, actorType, actorId, method));
        callbacks.MapDelete("actors/{actorType}/{actorId}", async (string actorType, string actorId, CancellationToken cancellationToken) =>
        {
            if (!actors.Hosts(actorType))
            {
                return Results.NotFound();
            }

            // Exactly 200, also for an actor that is not active here (after a restart, say): there is nothing to undo.
            await actors.DeactivateAsync(actorType, actorId, cancellationToken);
            return Results.Ok();
        });
    }

    private async Task<IResult> InvokeActorAsync(HttpContext http, ActorManager actors, string actorType, string actorId, string method)
    {
        var cancellationToken = http.RequestAborted;
        var body = await ReadBodyAsync(http.Request, cancellationToken);
        try
        {
            // TypedResults.Bytes answers 200: daprd counts anything else, 204 included, as a failed call (§2.7).
            return TypedResults.Bytes(await actors.InvokeAsync(actorType, actorId, method, body, cancellationToken), JsonMediaType);
        }
        catch (ActorNotFoundException e)
        {
            // 404 is daprd's "method not found", not retried (§2.7).
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status404NotFound);
        }
        catch (Exception e) when (e is MalformedRequestException or InvalidInvocationException)
        {
            return ActorError.Result(http, StatusCodes.Status400BadRequest, $"Actor method '{method}' refused the request.", e.Message);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // As for service invocation, the details stay in this service's log.
            _logger.LogError(e, "Method {Method} of actor {ActorType}/{ActorId} failed", method, actorType, actorId);
            return ActorError.Result(http, StatusCodes.Status500InternalServerError, $"Actor method '{method}' failed.", detail: null);
        }
    }

    private async Task<IResult> RemindAsync(HttpContext http, ActorManager actors, string actorType, string actorId, string reminder)
    {
        var cancellationToken = http.RequestAborted;
        if (!actors.Hosts(actorType))
        {
            return TypedResults.NotFound();
        }

        if (!TryReadCallback(await ReadBodyAsync(http.Request, cancellationToken), out var data, out _))
        {
            return TypedResults.Problem("The reminder body is not a JSON object.", statusCode: StatusCodes.Status400BadRequest);
        }

        try
        {
            await actors.ReminderAsync(actorType, actorId, reminder, data, cancellationToken);
            return TypedResults.Ok();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // A non-200 tells daprd the reminder failed; it logs it and, for a periodic one, fires again next period.
            _logger.LogError(e, "Reminder {Reminder} of actor {ActorType}/{ActorId} failed", reminder, actorType, actorId);
            return TypedResults.Problem($"Reminder '{reminder}' failed.", statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    // Mesh registers no timers (reminders survive deactivation and restarts; timers do not), but a timer registered
    // through the sidecar's API calls its "callback" method like an invocation with the timer's data as the request.
    private async Task<IResult> TimerAsync(HttpContext http, ActorManager actors, string actorType, string actorId, string timer)
    {
        var cancellationToken = http.RequestAborted;
        if (!TryReadCallback(await ReadBodyAsync(http.Request, cancellationToken), out var data, out var callback) || string.IsNullOrEmpty(callback))
        {
            return TypedResults.Problem($"The body of timer '{timer}' is not a JSON object with a \"callback\".", statusCode: StatusCodes.Status400BadRequest);
        }

        try
        {
            await actors.InvokeAsync(actorType, actorId, callback, data.IsEmpty ? "null"u8.ToArray() : data, cancellationToken);
            return TypedResults.Ok();
        }
        catch (ActorNotFoundException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status404NotFound);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(e, "Timer {Timer} of actor {ActorType}/{ActorId} failed", timer, actorType, actorId);
            return TypedResults.Problem($"Timer '{timer}' failed.", statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    // Reminder and timer bodies: {"data":<json>,"dueTime":"…","period":"…"} (+ "callback" for timers). Keys match
    // case-insensitively as in Go; a missing or null "data" is no data.
    private static bool TryReadCallback(byte[] body, out ReadOnlyMemory<byte> data, out string? callback)
    {
        data = ReadOnlyMemory<byte>.Empty;
        callback = null;
        if (body.Length == 0)
        {
            return true;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name.Equals("data", StringComparison.OrdinalIgnoreCase))
                {
                    data = p.Value.ValueKind == JsonValueKind.Null ? ReadOnlyMemory<byte>.Empty : JsonSerializer.SerializeToUtf8Bytes(p.Value);
                }
                else if (p.Name.Equals("callback", StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind == JsonValueKind.String)
                {
                    callback = p.Value.GetString();
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // Field order as daprd's docs show it (§2.7); durations in Go's notation, which daprd parses.
    private sealed record ActorConfig(
        IReadOnlyList<string> Entities,
        string ActorIdleTimeout,
        string ActorScanInterval,
        string DrainOngoingCallTimeout,
        bool DrainRebalancedActors,
        ReentrancyConfig Reentrancy);

    private sealed record ReentrancyConfig(bool Enabled);
}

/// <summary>The failure answer of an actor method: a 200 with <see cref="DaprAppEndpoints.ActorErrorHeader"/> and a small JSON body.</summary>
internal static class ActorError
{
    public static IResult Result(HttpContext http, int status, string title, string? detail)
    {
        http.Response.Headers[DaprAppEndpoints.ActorErrorHeader] = "true";
        return TypedResults.Json(new Body(status, title, detail), MeshJson.Options, "application/json", StatusCodes.Status200OK);
    }

    /// <summary>The status and message in an error body; 500 and the raw text when it is not ours (another SDK's actor).</summary>
    public static (int Status, string Detail) Read(byte[] body)
    {
        try
        {
            var error = MeshJson.Deserialize<Body>(body);
            if (error.Status is >= 400 and < 600)
            {
                return (error.Status, error.Detail is null ? error.Title : $"{error.Title} {error.Detail}");
            }
        }
        catch (JsonException)
        {
        }

        return (StatusCodes.Status500InternalServerError, System.Text.Encoding.UTF8.GetString(body));
    }

    private sealed record Body(int Status, string Title, string? Detail);
}
