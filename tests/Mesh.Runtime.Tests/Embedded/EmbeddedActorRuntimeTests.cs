using Mesh.Runtime.Tests.Actors;

namespace Mesh.Runtime.Tests.Embedded;

/// <summary>What only the embedded runtime does itself: shutdown and persistence (under Dapr, daprd's business).</summary>
public sealed class EmbeddedActorRuntimeTests
{
    [Fact]
    public async Task Stop_DeactivatesActiveActorsAndSavesTheirState()
    {
        var f = await EmbeddedActorFixture.StartAsync();
        await f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "add", 1);
        var journal = f.Journal;
        var store = f.Runtime;

        await f.DisposeAsync();

        Assert.Equal(["activate", "deactivate"], journal.Of("a"));
        Assert.Equal(0, store.ActiveActors);
    }

    [Fact]
    public async Task Restart_WithDataDirectory_KeepsStateAndReminders()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mesh-actors-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var first = await EmbeddedActorFixture.StartAsync(o => o.DataDirectory = dir))
            {
                await first.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "add", 4);
                await first.Actors.InvokeAsync<ReminderRequest, bool>(CounterActor.Type, "a", "remind", new ReminderRequest("late", TimeSpan.FromSeconds(100)));
            }

            // Both hosts' clocks start at the same instant, so the reminder is still 100 s away.
            await using var second = await EmbeddedActorFixture.StartAsync(o => o.DataDirectory = dir);
            Assert.Equal(1, second.ReminderCount);
            second.Clock.Advance(TimeSpan.FromSeconds(100));
            await second.WaitForIdleAsync();

            Assert.Equal(["activate", "reminder late - at +100s"], second.Journal.Of("a"));
            Assert.Equal(new CounterStats(4, 1, 1, false), await second.Actors.InvokeAsync<string, CounterStats>(CounterActor.Type, "a", "stats", ""));
            Assert.Equal(0, second.ReminderCount);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
