using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Serving;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Ranker.Tests;

[Trait("Category", "Slow")]
public sealed class ModelLoadingTests
{
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

    // Saves the model's graphs as the trainer does, as version `version`; returns their keys.
    private static async Task<Dictionary<string, string>> SaveGraphsAsync(EmbeddedHost host, Models.RankingModel model, long version)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (graph, onnx) in Onnx.RankingOnnx.Export(model, version, 10))
        {
            keys[graph] = StateKeys.RankingGraph(version, graph);
            await host.State.SaveAsync(Components.ModelStore, keys[graph], new ModelGraph { Version = version, Graph = graph, CreatedAt = host.Clock.GetUtcNow(), Onnx = onnx });
        }

        return keys;
    }

    [Fact]
    public async Task Start_ACudaDeviceWithoutAGpu_StopsTheRankerWithWhatToDo()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => EmbeddedHost.StartAsync((IHostApplicationBuilder b) =>
        {
            b.Configuration["Ranker:Devices:0"] = "cuda:0";
            b.AddRanker();
        }));

        Assert.Contains("execution target cuda:0 cannot start", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ACudaDeviceWithoutAGpuAndFallbackAllowed_ServesOnTheCpuAndSaysSoInStats()
    {
        await using var host = await EmbeddedHost.StartAsync((IHostApplicationBuilder b) =>
        {
            b.Configuration["Ranker:Devices:0"] = "cuda:0";
            b.Configuration["Ranker:AllowCpuFallback"] = "true";
            b.AddRanker();
        });

        var stats = new Dictionary<string, object?>();
        host.Services.GetRequiredService<Scoring.RankerMetrics>().Contribute(stats);
        var device = System.Text.Json.JsonSerializer.SerializeToElement(stats["ranker"]).GetProperty("devices")[0];
        Assert.Equal(("cuda:0", "cpu"), (device.GetProperty("target").GetString(), device.GetProperty("running").GetString()));
        Assert.False(string.IsNullOrEmpty(device.GetProperty("fallback").GetString()));
    }

    [Fact]
    public async Task ModelPublished_CheckpointInStore_ServesNewVersion()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        await TestModels.SaveAsync(host.State, 2, TestModels.InitialCheckpoint(2), host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(2, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        var serving = host.Services.GetRequiredService<ServingModel>();
        Assert.Equal(2, serving.Version);
        Assert.Equal(1, serving.Loads);
    }

    [Fact]
    public async Task ModelPublished_WithGraphKeys_ServesTheTiersGraphsNotTheCheckpoint()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var model = TestModels.CategoryLoving("c3", version: 2);
        var keys = await SaveGraphsAsync(host, model, version: 2);
        var published = Published(2, host.Clock.GetUtcNow()) with { GraphKeys = keys };

        await host.Publisher.PublishAsync(Topics.ModelPublished, published);
        await host.Broker.WaitForIdleAsync();

        // No checkpoint was saved: the ranker served from the graphs, and reads none but the tiers'.
        var serving = host.Services.GetRequiredService<ServingModel>();
        Assert.Equal(2, serving.Version);
        using var lease = serving.Acquire();
        Assert.Equal([Tiers.Large, Tiers.Small], lease.Model.Graphs.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Load_TheSameVersionTwiceAtOnce_OneLoadServesBoth()
    {
        // As in the standalone host, where ranker and user-model share the loader and both receive model-published.
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var keys = await SaveGraphsAsync(host, TestModels.CategoryLoving("c3", version: 2), version: 2);
        var loader = host.Services.GetRequiredService<ModelLoader>();

        var first = loader.LoadAsync(StateKeys.RankingCheckpoint(2), 2, keys, CancellationToken.None);
        var second = loader.LoadAsync(StateKeys.RankingCheckpoint(2), 2, keys, CancellationToken.None);

        Assert.Same(first, second);
        var loaded = await Task.WhenAll(first, second);
        Assert.Equal(new[] { true, true }, loaded);
        var serving = host.Services.GetRequiredService<ServingModel>();
        Assert.Equal((2, 1L), (serving.Version, serving.Loads));
    }

    [Fact]
    public async Task ModelPublished_GraphOfAnotherVersion_DeadLetteredAndOldVersionKeepsServing()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var keys = await SaveGraphsAsync(host, Models.RankingModel.CreateInitial(), version: 1);
        var published = Published(2, host.Clock.GetUtcNow()) with { Version = 2, GraphKeys = keys };

        await host.Publisher.PublishAsync(Topics.ModelPublished, published);
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(0, host.Services.GetRequiredService<ServingModel>().Version);
        Assert.Equal(1, host.Metrics.For(AppIds.Ranker, Topics.ModelPublished).DeadLettered);
    }

    [Fact]
    public async Task ModelPublished_CorruptCheckpoint_DeadLetteredAndOldVersionKeepsServing()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var tampered = TestModels.InitialCheckpoint(5);
        tampered[tampered.Length / 2] ^= 1; // a bit of a weight flipped: the SHA-256 no longer matches
        await TestModels.SaveAsync(host.State, 5, tampered, host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(5, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(0, host.Services.GetRequiredService<ServingModel>().Version);
        Assert.Equal(1, host.Metrics.For(AppIds.Ranker, Topics.ModelPublished).DeadLettered);
    }

    [Fact]
    public async Task ModelPublished_CheckpointOfAnotherVersion_Refused()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        await TestModels.SaveAsync(host.State, 6, TestModels.InitialCheckpoint(4), host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(6, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(0, host.Services.GetRequiredService<ServingModel>().Version);
        Assert.Equal(1, host.Metrics.For(AppIds.Ranker, Topics.ModelPublished).DeadLettered);
    }

    [Fact]
    public async Task ModelPublished_OlderVersion_Ignored()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var serving = host.Services.GetRequiredService<ServingModel>();
        serving.TryInstall(Models.RankingModel.FromCheckpoint(TestModels.InitialCheckpoint(4)));
        await TestModels.SaveAsync(host.State, 3, TestModels.InitialCheckpoint(3), host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.ModelPublished, Published(3, host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(4, serving.Version);
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

        Assert.Equal(9, host.Services.GetRequiredService<ServingModel>().Version);
    }

    [Fact]
    public async Task Reload_WhileScoring_NoRequestFails()
    {
        const int Versions = 4;
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var invoker = host.Services.GetRequiredService<IServiceInvoker>();
        for (var v = 1; v <= Versions; v++)
        {
            await TestModels.SaveAsync(host.State, v, TestModels.InitialCheckpoint(v), host.Clock.GetUtcNow());
        }

        var request = new ScoreRequest
        {
            RequestId = "r",
            UserId = "u",
            UserEmbedding = [],
            Context = new RankContext(),
            Candidates = [.. Enumerable.Range(0, 30).Select(i => new Candidate { AdId = $"a{i}", Category = "c" })],
            Cascade = [new CascadeStage { Tier = Tiers.Small, Keep = 10 }, new CascadeStage { Tier = Tiers.Large, Keep = 5 }],
        };
        var scoring = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var versions = new List<long>();
            for (var i = 0; i < 40; i++)
            {
                versions.Add((await invoker.InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, request)).ModelVersion);
            }

            return versions;
        })).ToArray();
        for (var v = 1; v <= Versions; v++)
        {
            await host.Publisher.PublishAsync(Topics.ModelPublished, Published(v, host.Clock.GetUtcNow()));
        }

        var seen = (await Task.WhenAll(scoring)).ToList();
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(Versions, host.Services.GetRequiredService<ServingModel>().Version);
        Assert.All(seen, versions => Assert.True(versions.Zip(versions.Skip(1)).All(p => p.Second >= p.First), "a request saw an older version after a newer one"));
    }

    /// <summary>Writes a checkpoint and the latest pointer before the ranker's start-up loader reads them.</summary>
    private sealed class Seed(IStateStore state) : Microsoft.Extensions.Hosting.IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await TestModels.SaveAsync(state, 9, TestModels.InitialCheckpoint(9), DateTimeOffset.UnixEpoch, cancellationToken);
            await state.SaveAsync(Components.ModelStore, StateKeys.LatestRankingModel, new ModelPointer { Version = 9, CheckpointKey = StateKeys.RankingCheckpoint(9) }, cancellationToken: cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
