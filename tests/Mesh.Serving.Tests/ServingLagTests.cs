using System.Text.Json;
using Mesh.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Serving.Tests;

public sealed class ServingLagTests
{
    private static ModelPublished Published(long version, long examples, DateTimeOffset at) => new()
    {
        ModelName = AppIds.Ranker,
        Version = version,
        CheckpointKey = $"ranker.v{version}",
        PublishedAt = at,
        TrainedExamples = examples,
        ValidationNe = 0.9,
        PreviousNe = 1,
    };

    [Fact]
    public void Snapshot_TwoVersionsAnnouncedNoneLoaded_BehindByBothSinceTheFirst()
    {
        using var serving = Scenes.Serving();
        var clock = new FakeTimeProvider(Scenes.Now);
        var lag = new ServingLag(serving, clock);
        lag.Record(Published(1, 400, Scenes.Now));
        lag.Record(Published(2, 2400, Scenes.Now.AddSeconds(2)));
        clock.Advance(TimeSpan.FromSeconds(5));

        var snapshot = JsonSerializer.SerializeToElement(lag.Snapshot());

        Assert.Equal((0, 2, 2, 2400, 5.0), (
            snapshot.GetProperty("servingVersion").GetInt64(),
            snapshot.GetProperty("latestPublished").GetInt64(),
            snapshot.GetProperty("versions").GetInt64(),
            snapshot.GetProperty("examples").GetInt64(),
            snapshot.GetProperty("seconds").GetDouble()));
    }

    [Fact]
    public void Snapshot_NothingAnnounced_NoLag()
    {
        using var serving = Scenes.Serving();
        var snapshot = JsonSerializer.SerializeToElement(new ServingLag(serving, new FakeTimeProvider(Scenes.Now)).Snapshot());

        Assert.Equal((0, 0, 0.0), (snapshot.GetProperty("versions").GetInt64(), snapshot.GetProperty("examples").GetInt64(), snapshot.GetProperty("seconds").GetDouble()));
    }
}
