using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Dapr.Tests.Embedded;

public sealed class EmbeddedBulkPublishTests
{
    [Fact]
    public async Task PublishManyAsync_Embedded_DeliversEachEventInOrder()
    {
        await using var mesh = await EmbeddedHost.StartAsync(services => services.AddSubscription<Ping, ScriptedHandler>("test-app", "pings"));

        await mesh.Publisher.PublishManyAsync("pings", [new Ping(1), new Ping(2), new Ping(3)]);
        await mesh.Broker.WaitForIdleAsync();

        var calls = mesh.Services.GetRequiredService<ScriptedHandler>().Calls;
        Assert.Equal([1, 2, 3], calls.Select(c => c.N));
        Assert.Equal(3, calls.Select(c => c.EventId).Distinct().Count());
        Assert.Equal(3, mesh.Metrics.Published);
    }

    [Fact]
    public async Task PublishManyAsync_DefaultImplementationSomeFail_TriesAllAndNamesTheFailed()
    {
        var publisher = new FailingPublisher(failOn: [1, 3]);

        var e = await Assert.ThrowsAsync<BulkPublishException>(() => ((IEventPublisher)publisher).PublishManyAsync("pings", [0, 1, 2, 3]));

        Assert.Equal([0, 1, 2, 3], publisher.Tried);
        Assert.Equal([1, 3], e.Failures.Select(f => f.Index));
        Assert.Equal([1, 3], e.FailedItems<int>([0, 1, 2, 3]));
        Assert.IsType<InvalidOperationException>(e.InnerException);
    }

    [Fact]
    public async Task Start_RoutingRule_RefusedByEmbeddedRuntime()
    {
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => EmbeddedHost.StartAsync(services =>
            services.AddSubscription<Ping, ScriptedHandler>("test-app", "pings", rule: new RoutingRule("event.type == 'x'", 1))));

        Assert.Contains("Dapr runtime", e.Message, StringComparison.Ordinal);
    }

    private sealed class FailingPublisher(int[] failOn) : IEventPublisher
    {
        public List<int> Tried { get; } = [];

        public Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default)
        {
            var n = (int)(object)data!;
            Tried.Add(n);
            return failOn.Contains(n) ? Task.FromException(new InvalidOperationException($"no {n}")) : Task.CompletedTask;
        }
    }
}
