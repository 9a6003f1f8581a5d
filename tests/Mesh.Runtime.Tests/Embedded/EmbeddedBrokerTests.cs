using System.Text;
using Mesh.Contracts;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Embedded;

public sealed class EmbeddedBrokerTests
{
    private const string App = "test-app";
    private const string Topic = "pings";

    private static Task<EmbeddedHost> StartAsync(Action<EmbeddedRuntimeOptions>? options = null) => EmbeddedHost.StartAsync(services =>
    {
        services.AddSubscription<Ping, ScriptedHandler>(App, Topic);
        services.AddSubscription<System.Text.Json.JsonElement, DeadLetterSink>("dead-letter-reader", Topics.DeadLetters);
    }, options);

    [Fact]
    public async Task Publish_HandlerSucceeds_DeliveredOnceInOrder()
    {
        await using var mesh = await StartAsync();
        for (var i = 0; i < 100; i++)
        {
            await mesh.Broker.PublishAsync(Topic, new Ping(i));
        }

        await mesh.Broker.WaitForIdleAsync();

        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        Assert.Equal(Enumerable.Range(0, 100), handler.Calls.Select(c => c.N));
        var counters = mesh.Metrics.For(App, Topic);
        Assert.Equal(100, counters.Delivered);
        Assert.Equal(0, counters.DeadLettered);
    }

    [Fact]
    public async Task Publish_HandlerAsksRetryTwice_RedeliveredThenDelivered()
    {
        await using var mesh = await StartAsync();
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        handler.Script(DeliveryOutcome.Retry, DeliveryOutcome.Retry);

        await mesh.Broker.PublishAsync(Topic, new Ping(7));
        await mesh.Broker.WaitForIdleAsync();

        Assert.Equal(3, handler.Calls.Count);
        Assert.Single(handler.Calls.Select(c => c.EventId).Distinct());
        var counters = mesh.Metrics.For(App, Topic);
        Assert.Equal(1, counters.Delivered);
        Assert.Equal(2, counters.Retried);
        Assert.Equal(0, counters.DeadLettered);
    }

    [Fact]
    public async Task Publish_RetriesExhausted_DeadLetteredWithOriginalBytes()
    {
        await using var mesh = await StartAsync(o => o.MaxAttempts = 3);
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        handler.Script(DeliveryOutcome.Retry, DeliveryOutcome.Retry, DeliveryOutcome.Retry);

        await mesh.Broker.PublishRawAsync(Topic, Encoding.UTF8.GetBytes("""{"n":42}"""), eventId: "evt-1");
        await mesh.Broker.WaitForIdleAsync();

        Assert.Equal(3, handler.Calls.Count);
        var counters = mesh.Metrics.For(App, Topic);
        Assert.Equal(0, counters.Delivered);
        Assert.Equal(1, counters.DeadLettered);
        var dead = Assert.Single(mesh.Services.GetRequiredService<DeadLetterSink>().Received);
        Assert.Equal(("evt-1", """{"n":42}"""), dead);
        Assert.Contains(mesh.Broker.RecentDeadLetters, d => d.EventId == "evt-1" && d.Topic == Topic && d.Reason.Contains("retries exhausted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Publish_HandlerDrops_DeadLetteredWithoutRetry()
    {
        await using var mesh = await StartAsync();
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        handler.Script(DeliveryOutcome.Drop);

        await mesh.Broker.PublishAsync(Topic, new Ping(1));
        await mesh.Broker.WaitForIdleAsync();

        Assert.Single(handler.Calls);
        Assert.Equal(1, mesh.Metrics.For(App, Topic).DeadLettered);
        Assert.Equal(0, mesh.Metrics.For(App, Topic).Retried);
    }

    [Fact]
    public async Task Publish_PoisonEvent_DeadLetteredAndQueueKeepsFlowing()
    {
        await using var mesh = await StartAsync();
        await mesh.Broker.PublishRawAsync(Topic, Encoding.UTF8.GetBytes("""{"n":"not a number"}"""));
        await mesh.Broker.PublishRawAsync(Topic, Encoding.UTF8.GetBytes("not json at all"));
        await mesh.Broker.PublishAsync(Topic, new Ping(5));
        await mesh.Broker.WaitForIdleAsync();

        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        Assert.Equal([5], handler.Calls.Select(c => c.N));
        var counters = mesh.Metrics.For(App, Topic);
        Assert.Equal(2, counters.Poison);
        Assert.Equal(2, counters.DeadLettered);
        Assert.Equal(1, counters.Delivered);
        Assert.Equal(0, counters.Retried);
    }

    [Fact]
    public async Task Publish_HandlerThrows_TreatedAsRetry()
    {
        await using var mesh = await StartAsync();
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        var failures = 1;
        handler.Gate = _ => Interlocked.Decrement(ref failures) >= 0 ? throw new InvalidOperationException("boom") : Task.CompletedTask;

        await mesh.Broker.PublishAsync(Topic, new Ping(3));
        await mesh.Broker.WaitForIdleAsync();

        Assert.Equal([3], handler.Calls.Select(c => c.N));
        Assert.Equal(1, mesh.Metrics.For(App, Topic).Retried);
        Assert.Equal(1, mesh.Metrics.For(App, Topic).Delivered);
    }

    [Fact]
    public async Task Publish_SameEventIdTwice_HandledOnce()
    {
        await using var mesh = await StartAsync();
        var data = Encoding.UTF8.GetBytes("""{"n":9}""");
        await mesh.Broker.PublishRawAsync(Topic, data, eventId: "same");
        await mesh.Broker.PublishRawAsync(Topic, data, eventId: "same");
        await mesh.Broker.WaitForIdleAsync();

        Assert.Single(mesh.Services.GetRequiredService<ScriptedHandler>().Calls);
        var counters = mesh.Metrics.For(App, Topic);
        Assert.Equal(2, counters.Received);
        Assert.Equal(1, counters.Duplicates);
        Assert.Equal(1, counters.Delivered);
    }

    [Fact]
    public async Task Publish_QueueFull_PublisherWaitsUntilThereIsRoom()
    {
        await using var mesh = await StartAsync(o => o.QueueCapacity = 1);
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        var release = new TaskCompletionSource();
        var entered = new TaskCompletionSource();
        handler.Gate = p =>
        {
            if (p.N == 0)
            {
                entered.TrySetResult();
                return release.Task;
            }

            return Task.CompletedTask;
        };

        await mesh.Broker.PublishAsync(Topic, new Ping(0));
        await entered.Task;                                  // event 0 is in the handler, the queue is empty
        await mesh.Broker.PublishAsync(Topic, new Ping(1));  // fills the queue
        var blocked = mesh.Broker.PublishAsync(Topic, new Ping(2));

        Assert.False(blocked.IsCompleted);
        release.SetResult();
        await blocked;
        await mesh.Broker.WaitForIdleAsync();
        Assert.Equal([0, 1, 2], handler.Calls.Select(c => c.N));
    }

    [Fact]
    public async Task Stop_EventsQueued_DrainsBeforeStopping()
    {
        var mesh = await StartAsync();
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        var release = new TaskCompletionSource();
        handler.Gate = _ => release.Task;
        for (var i = 0; i < 20; i++)
        {
            await mesh.Broker.PublishAsync(Topic, new Ping(i));
        }

        var stopping = mesh.Host.StopAsync();
        release.SetResult();
        await stopping;

        Assert.Equal(20, handler.Calls.Count);
        mesh.Host.Dispose();
    }

    [Fact]
    public async Task Publish_ManyOutcomes_EveryEventDeliveredOrDeadLettered()
    {
        await using var mesh = await StartAsync(o => o.MaxAttempts = 2);
        var handler = mesh.Services.GetRequiredService<ScriptedHandler>();
        var random = new Random(1234);
        handler.Script([.. Enumerable.Range(0, 300).Select(_ => (DeliveryOutcome)random.Next(3))]);
        for (var i = 0; i < 200; i++)
        {
            if (i % 17 == 0)
            {
                await mesh.Broker.PublishRawAsync(Topic, [0x7b]); // a poison '{'
            }
            else
            {
                await mesh.Broker.PublishAsync(Topic, new Ping(i));
            }
        }

        await mesh.Broker.WaitForIdleAsync();

        var counters = mesh.Metrics.For(App, Topic);
        Assert.Equal(200, mesh.Metrics.Published);
        Assert.Equal(200, counters.Delivered + counters.DeadLettered);
        // Every dead letter reaches the dead-letter topic (poison ones stay unreadable there too).
        Assert.Equal(counters.DeadLettered, mesh.Metrics.For("dead-letter-reader", Topics.DeadLetters).Received);
    }

    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 200)]
    [InlineData(4, 800)]
    [InlineData(10, 5000)]
    public void Backoff_DoublesPerAttempt_CappedAtMax(int attempt, int expectedMs)
    {
        var options = new EmbeddedRuntimeOptions { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(5) };

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), EmbeddedBroker.Backoff(options, attempt));
    }
}
