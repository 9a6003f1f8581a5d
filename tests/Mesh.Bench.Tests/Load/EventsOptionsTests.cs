using Mesh.Bench.Load;
using Mesh.Contracts;

namespace Mesh.Bench.Tests.Load;

public class EventsOptionsTests
{
    [Fact]
    public void Parse_NoArguments_Defaults()
    {
        var (options, error) = EventsOptions.Parse([]);

        Assert.Null(error);
        Assert.Equal(TimeSpan.FromSeconds(10), options!.Duration);
        Assert.Equal(16, options.Concurrency);
        Assert.Equal(["memory", "durable"], options.Modes);
        Assert.Equal(2, options.Rounds);
    }

    [Fact]
    public void Parse_Modes_KeptInOrderWithoutRepeats()
    {
        var (options, error) = EventsOptions.Parse(["--modes", "durable, durable-batch1,memory,durable", "--duration=5s", "--rounds", "4"]);

        Assert.Null(error);
        Assert.Equal(4, options!.Rounds);
        Assert.Equal(["durable", "durable-batch1", "memory"], options!.Modes);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Duration);
    }

    [Theory]
    [InlineData("--modes", "disk")]
    [InlineData("--modes", ",")]
    [InlineData("--concurrency", "0")]
    [InlineData("--duration", "121")]
    [InlineData("--rounds", "0")]
    public void Parse_OutOfRangeOrUnknown_IsAnError(string name, string value)
    {
        var (options, error) = EventsOptions.Parse([name, value]);

        Assert.Null(options);
        Assert.Contains(name, error);
    }

    [Fact]
    public void CreateBodies_SameSeed_SameValidRequests()
    {
        var bodies = EventsBenchmark.CreateBodies(42);

        Assert.Equal(EventsBenchmark.PoolSize, bodies.Count);
        Assert.Equal(bodies, EventsBenchmark.CreateBodies(42));
        Assert.All(bodies.Select(b => MeshJson.Deserialize<UserEventRequest>(b)), r =>
        {
            Assert.Matches("^u[0-9]{6}$", r.UserId);
            Assert.Matches("^a[0-9]{6}$", r.ItemId);
            Assert.Matches("^c[0-9]{2}$", r.Category);
        });
    }

    [Fact]
    public void Merge_TwoRounds_SumsCountsAndTimesAndPoolsLatencies()
    {
        EventsPhase Phase(long ok, int seconds, long[] ticks) => new()
        {
            Mode = "durable",
            Elapsed = TimeSpan.FromSeconds(seconds),
            Successes = ok,
            Errors = 1,
            SortedTicks = ticks,
            HostCpu = TimeSpan.FromSeconds(seconds),
            Wall = TimeSpan.FromSeconds(2 * seconds),
            OtherCpu = TimeSpan.FromSeconds(1),
        };

        var merged = EventsPhase.Merge([Phase(100, 10, [1, 5]), Phase(300, 10, [2, 3])]);

        Assert.Equal(20, merged.RequestsPerSecond);
        Assert.Equal(2, merged.Errors);
        Assert.Equal([1, 2, 3, 5], merged.SortedTicks);
        Assert.Equal(50, merged.HostCpuMsPerRequest);
        Assert.Equal(0.05, merged.OtherCores!.Value, 6);
    }
}
