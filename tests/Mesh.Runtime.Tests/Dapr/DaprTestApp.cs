using Mesh.Runtime.Actors;
using Mesh.Runtime.Dapr;
using Mesh.Runtime.Tests.Embedded;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Tests.Dapr;

/// <summary>
/// A small app on the Dapr runtime (TestServer) wired to a <see cref="FakeDaprSidecar"/>: a single and a bulk
/// subscription, an invocable method and the <see cref="TallyActor"/>.
/// </summary>
public sealed class DaprTestApp : IAsyncDisposable
{
    public const string AppId = "test-app";
    public const string Topic = "pings";
    public const string BulkTopic = "bulk-pings";
    public const string Method = "echo";

    private DaprTestApp(FakeDaprSidecar sidecar, WebApplication app)
    {
        Sidecar = sidecar;
        App = app;
    }

    public FakeDaprSidecar Sidecar { get; }
    public WebApplication App { get; }
    public HttpClient Client => App.GetTestClient();
    public ScriptedHandler Handler => App.Services.GetRequiredService<ScriptedHandler>();
    public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>Starts the app; <paramref name="settings"/> adds configuration (<c>Faults:HandlerFailureRate</c>).</summary>
    public static async Task<DaprTestApp> StartAsync(string? apiToken = null, string? appApiToken = null, Dictionary<string, string?>? settings = null)
    {
        var sidecar = await FakeDaprSidecar.StartAsync(apiToken, appApiToken);
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(sidecar.AppSettings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)));
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.AddDaprRuntime();
        builder.Services.AddSubscription<Ping, ScriptedHandler>(AppId, Topic);
        builder.Services.AddSubscription<Ping, ScriptedHandler>(AppId, BulkTopic, new BulkSubscribeOptions { MaxMessagesCount = 50, MaxAwaitDurationMs = 200 });
        builder.Services.AddMethod<EchoRequest, EchoResponse, EchoHandler>(AppId, Method);
        builder.Services.AddActorType<TallyActor>(AppId, TallyActor.Type);

        var app = builder.Build();
        app.MapDaprRuntime();
        await app.StartAsync();
        await sidecar.ConnectAppAsync(AppId, app.GetTestClient());
        return new DaprTestApp(sidecar, app);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Sidecar.DisposeAsync();
    }
}

public sealed record EchoRequest(string Text, TallyKind Kind);

public sealed record EchoResponse(string Text, TallyKind Kind);

/// <summary>Echoes its request; refuses an empty text (400).</summary>
public sealed class EchoHandler : IMethodHandler<EchoRequest, EchoResponse>
{
    public Task<EchoResponse> HandleAsync(EchoRequest request, CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(request.Text)
            ? throw new InvalidInvocationException("text is required")
            : Task.FromResult(new EchoResponse(request.Text.ToUpperInvariant(), request.Kind));
}
