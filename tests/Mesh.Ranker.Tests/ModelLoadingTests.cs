using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;
using Mesh.Ranker.Scoring;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Ranker.Tests;

public sealed class ModelLoadingTests
{
    private static async Task SaveCheckpointAsync(IStateStore state, RankingModel model, DateTimeOffset now)
    {
        await state.SaveAsync(Components.ModelStore, StateKeys.RankingCheckpoint(model.Version), RankingCheckpoint.From(model, now));
    }

    private static ModelPublished Published(long version, DateTimeOffset now) => new()
    {
        ModelName = AppIds.Ranker,
        Version = version,
        CheckpointKey = StateKeys.RankingCheckpoint(version),
        PublishedAt = now,
        TrainedExamples = 10,
        ValidationNe = 0.9,
        PreviousNe = 1,
    };

    [Fact]
    public async Task ModelPublished_CheckpointInStore_ServesNewVersion()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        await SaveCheckpointAsync(host.State, RankingModel.Initial.WithVersion(2, 10), host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(2, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(2, host.Services.GetRequiredService<ServingModel>().Current.Version);
    }

    [Fact]
    public async Task ModelPublished_CorruptCheckpoint_DeadLetteredAndOldVersionKeepsServing()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var checkpoint = RankingCheckpoint.From(RankingModel.Initial.WithVersion(5, 10), host.Clock.GetUtcNow());
        var tampered = checkpoint with { Tiers = [.. checkpoint.Tiers.Select(t => t with { Dense = [.. t.Dense.Select(b => (byte)(b ^ 1))] })] };
        await host.State.SaveAsync(Components.ModelStore, StateKeys.RankingCheckpoint(5), tampered);

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(5, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(0, host.Services.GetRequiredService<ServingModel>().Current.Version);
        Assert.Equal(1, host.Metrics.For(AppIds.Ranker, Topics.ModelPublished).DeadLettered);
    }

    [Fact]
    public async Task ModelPublished_OlderVersion_Ignored()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var serving = host.Services.GetRequiredService<ServingModel>();
        serving.TryInstall(RankingModel.Initial.WithVersion(4, 10));
        await SaveCheckpointAsync(host.State, RankingModel.Initial.WithVersion(3, 10), host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(3, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(4, serving.Current.Version);
    }

    [Fact]
    public async Task Start_LatestPointerInStore_LoadsIt()
    {
        // Hosted services start in registration order: the seed writes before the ranker's loader reads.
        await using var host = await EmbeddedHost.StartAsync(b =>
        {
            b.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => new Seed(sp.GetRequiredService<IStateStore>()));
            b.AddRanker();
        });

        Assert.Equal(9, host.Services.GetRequiredService<ServingModel>().Current.Version);
    }

    [Fact]
    public async Task Reload_WhileScoring_NoRequestFails()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var invoker = host.Services.GetRequiredService<IServiceInvoker>();
        for (var v = 1; v <= 20; v++)
        {
            await SaveCheckpointAsync(host.State, RankingModel.Initial.WithVersion(v, v), host.Clock.GetUtcNow());
        }

        var request = new ScoreRequest
        {
            RequestId = "r",
            UserId = "u",
            UserEmbedding = [],
            Context = new RankContext(),
            Candidates = [.. Enumerable.Range(0, 50).Select(i => new Candidate { AdId = $"a{i}", Category = "c" })],
            Cascade = [new CascadeStage { Tier = Tiers.Small, Keep = 20 }, new CascadeStage { Tier = Tiers.Large, Keep = 5 }],
        };
        var scoring = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var versions = new List<long>();
            for (var i = 0; i < 200; i++)
            {
                versions.Add((await invoker.InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, request)).ModelVersion);
            }

            return versions;
        })).ToArray();
        for (var v = 1; v <= 20; v++)
        {
            await host.Publisher.PublishAsync(Topics.ModelPublished, Published(v, host.Clock.GetUtcNow()));
        }

        var seen = (await Task.WhenAll(scoring)).ToList();
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(20, host.Services.GetRequiredService<ServingModel>().Current.Version);
        Assert.All(seen, versions => Assert.True(versions.Zip(versions.Skip(1)).All(p => p.Second >= p.First), "a request saw an older version after a newer one"));
    }

    /// <summary>Writes a checkpoint and the latest pointer before the ranker's start-up loader reads them.</summary>
    private sealed class Seed(IStateStore state) : Microsoft.Extensions.Hosting.IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var model = RankingModel.Initial.WithVersion(9, 1);
            await state.SaveAsync(Components.ModelStore, StateKeys.RankingCheckpoint(9), RankingCheckpoint.From(model, DateTimeOffset.UnixEpoch), cancellationToken: cancellationToken);
            await state.SaveAsync(Components.ModelStore, StateKeys.LatestRankingModel, new ModelPointer { Version = 9, CheckpointKey = StateKeys.RankingCheckpoint(9) }, cancellationToken: cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
