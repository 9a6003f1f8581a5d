using System.Net.Http.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Runtime;
using Mesh.Serving;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Standalone.Tests;

/// <summary>
/// SOLARIS's train/serve agreement, through the whole mesh: a final-stage hit and a miss are logged as served, and the
/// trainer rebuilds from the log exactly the inputs the ranker scored. Slow: the whole mesh starts (16 s on 2 busy cores).
/// </summary>
[Trait("Category", "Slow")]
public sealed class TrainServeConsistencyTests
{
    private static readonly float[] Vector = [.. Enumerable.Range(0, FeatureSpace.PrecomputedDimension).Select(i => (float)Math.Sin(i + 1))];

    /// <summary>
    /// The initial model trained a few dozen steps (seeded) on requests where candidates with this precomputed
    /// representation are clicked and misses are not, so that its large tier's score depends on the representation.
    /// </summary>
    private static RankingModel HitLoving(long version)
    {
        var model = RankingModel.CreateInitial(seed: 5);
        var trainer = RankingTrainer.For(model, new TrainingSettings { GemmThreads = 1 });
        var requests = Enumerable.Range(0, 8).Select(r => new RankingInput
        {
            UserId = $"trainee{r}",
            Context = new RankContext(),
            At = TestClock.Start,
            Ads = [.. Enumerable.Range(0, 10).Select(i => new AdInput($"t{r}-{i}", "c1", i % 2 == 0 ? Vector : null))],
        }).ToList();
        var batch = RankingBatch.Create(requests, [.. requests.SelectMany(r => r.Ads.Select(a => a.Precomputed is null ? 0f : 1f))]);
        for (var i = 0; i < 30; i++)
        {
            trainer.Step(batch);
        }

        return model.WithVersion(version, trainer.Examples);
    }

    /// <summary>As <see cref="StandaloneMesh.SettleAsync"/>, on the host with the observer.</summary>
    private static async Task SettleAsync(IServiceProvider services)
    {
        var broker = services.GetRequiredService<Runtime.Embedded.EmbeddedBroker>();
        var impressions = services.GetRequiredService<Router.Impressions.ImpressionQueue>();
        do
        {
            await impressions.WhenPublishedAsync();
            await broker.WaitForIdleAsync();
        }
        while (!impressions.WhenPublishedAsync().IsCompleted);
    }

    [Fact]
    public async Task Rank_FinalStageHitAndMiss_LoggedAsServedAndTrainedOnTheSameInputs()
    {
        await using var mesh = new StandaloneMesh();
        await using var observed = mesh.WithWebHostBuilder(b => b.ConfigureTestServices(s =>
            s.AddSubscription<ImpressionsServed, EventRecorder<ImpressionsServed>>("observer", Topics.Impressions)));
        using var client = observed.CreateClient();
        var serving = observed.Services.GetRequiredService<ServingModel>();
        Assert.True(serving.TryInstall(HitLoving(version: 2)));
        var now = mesh.Clock.GetUtcNow();
        await observed.Services.GetRequiredService<IStateStore>().SaveAsync(Components.PrecomputedStore, StateKeys.Precomputed("u-new", "a1"), new PrecomputedRepresentation
        {
            Vector = Vector,
            FoundationVersion = 5, // a published foundation model's, not the placeholder's
            EmbeddingVersion = 0,
            ComputedAt = now - TimeSpan.FromSeconds(2),
        });

        // No exit, so that the served score is the final head's, as the trainer's model scores it.
        using var reply = await client.PostAsJsonAsync("v1/rank", new RankRequest
        {
            UserId = "u-new",
            K = 2,
            ExitThreshold = 0,
            OccurredAt = now,
            Candidates = [new Candidate { AdId = "a1", Category = "c1" }, new Candidate { AdId = "a2", Category = "c1" }],
        }, MeshJson.Options);
        reply.EnsureSuccessStatusCode();
        var ranked = (await reply.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        await SettleAsync(observed.Services);
        Assert.Equal(1, ranked.PrecomputedHits);

        // Logged as served: the hit with its vector, FM version and age; the miss with none.
        var served = Assert.Single(observed.Services.GetRequiredService<EventRecorder<ImpressionsServed>>().All);
        var hit = served.Items.Single(i => i.AdId == "a1");
        var miss = served.Items.Single(i => i.AdId == "a2");
        Assert.Equal(Vector, hit.Precomputed);
        Assert.Equal((5L, 2000.0), (hit.PrecomputedVersion, hit.PrecomputedAgeMs));
        Assert.Equal((true, true, true), (miss.Precomputed is null, miss.PrecomputedVersion is null, miss.PrecomputedAgeMs is null));
        Assert.Equal([("a1", true), ("a2", false)], served.FinalStage!.Select(l => (l.AdId, l.Hit)).Order());

        // The trainer's joiner turns the log into its training input; the served model scores it as it served.
        var joiner = observed.Services.GetRequiredService<LabelJoiner>();
        foreach (var item in served.Items)
        {
            joiner.AddFeedback(new FeedbackReceived { FeedbackId = item.ImpressionId, ImpressionId = item.ImpressionId, UserId = "u-new", AdId = item.AdId, Kind = FeedbackKind.NoClick, OccurredAt = now });
        }

        var input = Assert.Single(joiner.CollectLabelled(), r => r.Input.UserId == "u-new").Input;
        Assert.Equal(Vector, input.Ads.Single(a => a.AdId == "a1").Precomputed);
        Assert.Null(input.Ads.Single(a => a.AdId == "a2").Precomputed);
        using var lease = serving.Acquire();
        var trained = lease.Model.Score(Tiers.Large, input).Scores;
        for (var i = 0; i < input.Ads.Count; i++)
        {
            Assert.Equal(ranked.Items.Single(r => r.AdId == input.Ads[i].AdId).Score, trained[i], 5);
        }

        // The representation matters to the score, so the agreement above is not one of two ignored inputs.
        var withoutHit = lease.Model.Score(Tiers.Large, input with { Ads = [.. input.Ads.Select(a => a with { Precomputed = null })] }).Scores;
        var a1 = input.Ads.ToList().FindIndex(a => a.AdId == "a1");
        Assert.True(Math.Abs(withoutHit[a1] - trained[a1]) > 1e-3, $"hit {trained[a1]} against miss {withoutHit[a1]}");
    }
}
