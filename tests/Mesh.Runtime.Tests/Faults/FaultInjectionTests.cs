using System.Net;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Runtime.Embedded;
using Mesh.Runtime.Faults;
using Mesh.Runtime.Tests.Dapr;
using Mesh.Runtime.Tests.Embedded;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Tests.Faults;

/// <summary>Faults switched on by configuration, and the rule they must not break: every published event is handled once or dead-lettered.</summary>
public sealed class FaultInjectionTests
{
    private const string App = "test-app";
    private const string Topic = "pings";

    private static Task<EmbeddedHost> StartAsync(Dictionary<string, string?> faults) => EmbeddedHost.StartAsync((IHostApplicationBuilder b) =>
    {
        b.Configuration.AddInMemoryCollection(faults);
        b.Services.AddSubscription<Ping, ScriptedHandler>(App, Topic);
        b.Services.AddSubscription<JsonElement, DeadLetterSink>("dead-letter-reader", Topics.DeadLetters);
    });

    [Fact]
    public async Task Embedded_HandlerFailuresAtARate_EveryEventHandledOnceOrDeadLettered()
    {
        await using var mesh = await StartAsync(new() { ["Faults:HandlerFailureRate"] = "0.4", ["Faults:Seed"] = "7" });
        const int published = 300;
        for (var i = 0; i < published; i++)
        {
            await mesh.Broker.PublishAsync(Topic, new Ping(i));
        }

        await mesh.Broker.WaitForIdleAsync();

        var handled = mesh.Services.GetRequiredService<ScriptedHandler>().Calls;
        var deadLetters = mesh.Services.GetRequiredService<DeadLetterSink>().Received;
        var counters = mesh.Metrics.For(App, Topic);
        var injected = mesh.Services.GetRequiredService<FaultInjector>();
        Assert.Equal(handled.Count, handled.Select(c => c.EventId).Distinct().Count()); // nothing twice
        Assert.Equal(published, handled.Count + deadLetters.Count); // nothing lost
        Assert.Equal(published, counters.Delivered + counters.DeadLettered);
        Assert.True(counters.Retried > 0, "no fault was injected");
        Assert.Contains("\"handlerFailures\"", Stats(injected), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embedded_NoFaultsConfigured_PortsAreNotWrapped()
    {
        await using var mesh = await StartAsync([]);

        Assert.IsType<EmbeddedStateStore>(mesh.State);
        Assert.IsType<EmbeddedInvoker>(mesh.Services.GetRequiredService<IServiceInvoker>());
        Assert.Equal("{}", Stats(mesh.Services.GetRequiredService<FaultInjector>()));
    }

    [Fact]
    public async Task Embedded_StoreOutage_FailsOnlyTheNamedStoreOnlyInsideTheWindow()
    {
        await using var mesh = await StartAsync(new()
        {
            ["Faults:StoreOutageAfter"] = "00:00:10",
            ["Faults:StoreOutageFor"] = "00:01:00",
            ["Faults:StoreOutageStores:0"] = Components.EmbeddingStore,
        });
        await mesh.State.SaveAsync(Components.EmbeddingStore, "u1", 1);

        mesh.Clock.Advance(TimeSpan.FromSeconds(10));
        var during = await Assert.ThrowsAsync<StateStoreException>(() => mesh.State.GetAsync<int>(Components.EmbeddingStore, "u1"));
        await mesh.State.SaveAsync(Components.PrecomputedStore, "p1", 2); // another store stays up
        mesh.Clock.Advance(TimeSpan.FromSeconds(60));
        var after = await mesh.State.GetAsync<int>(Components.EmbeddingStore, "u1");

        Assert.IsType<InjectedFaultException>(during.InnerException);
        Assert.Equal(1, after!.Value);
        Assert.Equal(2, (await mesh.State.GetAsync<int>(Components.PrecomputedStore, "p1"))!.Value);
    }

    [Fact]
    public async Task Embedded_InvocationFailures_Are503InvocationExceptions()
    {
        await using var mesh = await StartAsync(new() { ["Faults:InvocationFailureRate"] = "1" });
        var invoker = mesh.Services.GetRequiredService<IServiceInvoker>();

        var failure = await Assert.ThrowsAsync<InvocationException>(() => invoker.InvokeAsync<EchoRequest, EchoResponse>("anyone", "echo", new EchoRequest("x", default)));

        Assert.Equal(503, failure.StatusCode);
        Assert.IsType<InjectedFaultException>(failure.InnerException);
    }

    [Fact]
    public async Task Embedded_SlowHandler_WaitsOnTheHostsClockThenDelivers()
    {
        await using var mesh = await StartAsync(new() { ["Faults:HandlerDelay"] = "00:00:05" });
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();

        await mesh.Broker.PublishAsync(Topic, new Ping(1));
        var idle = mesh.Broker.WaitForIdleAsync();
        while (!idle.IsCompleted && handler.Calls.Count == 0)
        {
            // The delay runs on the fake clock: nothing is handled until the clock passes it.
            await Task.Yield();
            mesh.Clock.Advance(TimeSpan.FromSeconds(1));
        }

        await idle;
        Assert.Single(handler.Calls);
        Assert.Equal(1, mesh.Metrics.For(App, Topic).Delivered);
    }

    [Fact]
    public async Task Dapr_HandlerFailuresAtARate_SidecarRetriesUntilEachIsHandledOnce()
    {
        await using var app = await DaprTestApp.StartAsync(settings: new() { ["Faults:HandlerFailureRate"] = "0.4", ["Faults:Seed"] = "3" });
        const int published = 60;
        const int attempts = 5; // daprd's resiliency policy in components/ retries a bounded number of times, then dead-letters
        var deadLettered = 0;
        var retries = 0;

        for (var i = 0; i < published; i++)
        {
            var outcome = "";
            for (var attempt = 0; attempt < attempts && outcome != "SUCCESS"; attempt++)
            {
                var (status, body) = await app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, $"ce-{i}", $$"""{"n":{{i}}}""");
                Assert.Equal((int)HttpStatusCode.OK, status);
                outcome = JsonDocument.Parse(body).RootElement.GetProperty("status").GetString()!;
                retries += outcome == "RETRY" ? 1 : 0;
            }

            deadLettered += outcome == "SUCCESS" ? 0 : 1;
        }

        var handled = app.Handler.Calls;
        Assert.Equal(handled.Count, handled.Select(c => c.EventId).Distinct().Count());
        Assert.Equal(published, handled.Count + deadLettered);
        Assert.True(retries > 0, "no fault was injected");
        Assert.Equal(handled.Count, app.Get<DeliveryMetrics>().For(DaprTestApp.AppId, DaprTestApp.Topic).Delivered);
    }

    private static string Stats(FaultInjector injector)
    {
        var stats = new Dictionary<string, object?>();
        injector.Contribute(stats);
        return JsonSerializer.Serialize(stats);
    }
}
