using System.Text;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Embedded;

/// <summary>
/// The embedded runtime with a data folder, restarted: events still in the outbox are delivered, delivered ones are
/// not, and a crash (the database abandoned mid-batch, no clean stop) keeps everything that was acknowledged.
/// </summary>
public sealed class EmbeddedPersistenceTests : IDisposable
{
    private const string App = "test-app";
    private const string Topic = "pings";
    private const string Store = "things";

    private readonly TempDirectory _dir = new("mesh-persist");

    public sealed record Thing(string Name, int Count);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Restart_EventsNotYetDelivered_DeliveredAfterRestartInPublishOrder()
    {
        var first = await StartAsync(o => o.DrainTimeout = TimeSpan.Zero);
        var handler = first.Services.GetRequiredService<ScriptedHandler>();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        handler.Gate = p =>
        {
            if (p.N != 0)
            {
                return Task.CompletedTask;
            }

            entered.TrySetResult();
            return release.Task;
        };
        for (var i = 0; i < 10; i++)
        {
            await first.Broker.PublishAsync(Topic, new Ping(i));
        }

        // Event 0 is in its handler; the stop gives up draining at once and leaves 1..9 queued.
        await entered.Task;
        var stopping = first.Host.StopAsync();
        release.SetResult();
        await stopping;
        first.Host.Dispose();
        Assert.Equal([0], handler.Calls.Select(c => c.N));

        await using var second = await StartAsync();
        await second.Broker.WaitForIdleAsync();

        Assert.Equal(Enumerable.Range(1, 9), second.Services.GetRequiredService<ScriptedHandler>().Calls.Select(c => c.N));
    }

    [Fact]
    public async Task Restart_DeliveredEvents_NotDeliveredAgain()
    {
        await using (var first = await StartAsync())
        {
            for (var i = 0; i < 20; i++)
            {
                await first.Broker.PublishAsync(Topic, new Ping(i));
            }

            await first.Broker.WaitForIdleAsync();
            Assert.Equal(20, first.Services.GetRequiredService<ScriptedHandler>().Calls.Count);
        }

        await using var second = await StartAsync();
        await second.Broker.WaitForIdleAsync();

        Assert.Empty(second.Services.GetRequiredService<ScriptedHandler>().Calls);
    }

    [Fact]
    public async Task Restart_DeadLetteredEvent_OnlyTheDeadLetterIsLeftToDeliver()
    {
        await using (var first = await StartAsync(o => o.MaxAttempts = 1))
        {
            first.Services.GetRequiredService<ScriptedHandler>().Script(DeliveryOutcome.Drop);
            var sink = first.Services.GetRequiredService<DeadLetterSink>();
            await first.Broker.PublishRawAsync(Topic, Encoding.UTF8.GetBytes("""{"n":1}"""), eventId: "evt-dead");
            await first.Broker.WaitForIdleAsync();
            Assert.Equal("evt-dead", Assert.Single(sink.Received).EventId);
        }

        await using var second = await StartAsync();
        await second.Broker.WaitForIdleAsync();

        Assert.Empty(second.Services.GetRequiredService<ScriptedHandler>().Calls);
        Assert.Empty(second.Services.GetRequiredService<DeadLetterSink>().Received);
    }

    [Fact]
    public async Task Crash_MidBatch_EveryAcknowledgedEventDeliveredAndEveryAcknowledgedSaveReadBack()
    {
        var random = new Random(4242);
        var first = await StartAsync();
        var database = first.Services.GetRequiredService<EmbeddedDatabase>();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The first host delivers nothing before the crash, so every event the second one gets came from the outbox.
        first.Services.GetRequiredService<ScriptedHandler>().Gate = _ => releaseFirst.Task;
        var operations = new List<Operation>();
        var n = 0;
        Operation Next()
        {
            var i = n++;
            if (random.Next(2) == 0)
            {
                var id = $"evt-{i}";
                return new Operation(id, null, first.Broker.PublishRawAsync(Topic, Encoding.UTF8.GetBytes($$"""{"n":{{i}}}"""), eventId: id));
            }

            var thing = new Thing($"k{i}", random.Next());
            return new Operation(thing.Name, thing, first.State.SaveAsync(Store, thing.Name, thing));
        }

        // Concurrent publishers and writers, ten at a time, all acknowledged...
        for (var wave = 0; wave < 10; wave++)
        {
            var batch = Enumerable.Range(0, 10).Select(_ => Next()).ToList();
            operations.AddRange(batch);
            await Task.WhenAll(batch.Select(o => o.Task));
        }

        // ...then more of them until, a few commits later, one batch is held open inside its transaction: the crash.
        var batchesToCommit = random.Next(0, 4);
        var batches = 0;
        database.BeforeCommit = async cancellationToken =>
        {
            if (Interlocked.Increment(ref batches) > batchesToCommit)
            {
                held.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        };
        while (!held.Task.IsCompleted)
        {
            var batch = Enumerable.Range(0, 10).Select(_ => Next()).ToList();
            operations.AddRange(batch);
            await Task.WhenAny(Task.WhenAll(batch.Select(o => o.Task)), held.Task);
        }

        await database.SimulateCrashAsync();
        await Task.WhenAll(operations.Select(o => o.Task)).ContinueWith(_ => { }, TaskScheduler.Default);
        var acknowledged = operations.Where(o => o.Task.IsCompletedSuccessfully).ToList();
        var refused = operations.Where(o => !o.Task.IsCompletedSuccessfully).ToList();
        Assert.NotEmpty(refused);

        // Whatever the first host does from here on reaches memory only; its file was left as a killed process leaves it.
        releaseFirst.SetResult();
        await first.DisposeAsync();

        await using var second = await StartAsync();
        await second.Broker.WaitForIdleAsync();

        var delivered = second.Services.GetRequiredService<ScriptedHandler>().Calls.Select(c => c.EventId).ToHashSet(StringComparer.Ordinal);
        foreach (var o in acknowledged)
        {
            if (o.Thing is null)
            {
                Assert.Contains(o.Key, delivered);
            }
            else
            {
                Assert.Equal(o.Thing, (await second.State.GetAsync<Thing>(Store, o.Key))?.Value);
            }
        }

        // Nothing of the batch the crash cut short was committed, nor anything after it.
        foreach (var o in refused)
        {
            if (o.Thing is null)
            {
                Assert.DoesNotContain(o.Key, delivered);
            }
            else
            {
                Assert.Null(await second.State.GetAsync<Thing>(Store, o.Key));
            }
        }
    }

    [Fact]
    public async Task Start_DataDirectoryHoldsAForeignFile_HostStopsNamingTheFile()
    {
        var path = _dir.File(EmbeddedDatabase.FileName);
        await File.WriteAllTextAsync(path, "not a database");

        var e = await Assert.ThrowsAsync<EmbeddedDatabaseException>(() => StartAsync());

        Assert.Contains($"'{path}' is not a SQLite database", e.Message, StringComparison.Ordinal);
        Assert.Equal("not a database", await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task Start_NoDataDirectory_RunsInMemoryWithoutADatabase()
    {
        await using var mesh = await EmbeddedHost.StartAsync(services => services.AddSubscription<Ping, ScriptedHandler>(App, Topic));

        await mesh.Broker.PublishAsync(Topic, new Ping(1));
        await mesh.State.SaveAsync(Store, "k", new Thing("k", 1));
        await mesh.Broker.WaitForIdleAsync();

        Assert.False(mesh.Services.GetRequiredService<EmbeddedDatabase>().IsPersistent);
        Assert.Single(mesh.Services.GetRequiredService<ScriptedHandler>().Calls);
    }

    private Task<EmbeddedHost> StartAsync(Action<EmbeddedRuntimeOptions>? options = null) => EmbeddedHost.StartAsync(services =>
    {
        services.AddSubscription<Ping, ScriptedHandler>(App, Topic);
        services.AddSubscription<System.Text.Json.JsonElement, DeadLetterSink>("dead-letter-reader", Mesh.Contracts.Topics.DeadLetters);
    }, o =>
    {
        o.DataDirectory = _dir.Path;
        options?.Invoke(o);
    });

    /// <summary>A publish (<see cref="Thing"/> null; <see cref="Key"/> is the event id) or a save of <see cref="Thing"/> under <see cref="Key"/>.</summary>
    private sealed record Operation(string Key, Thing? Thing, Task Task);
}
