using System.Text.Json;
using Mesh.Contracts;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.UserModel.Tests;

/// <summary>
/// The real user-model app on the Dapr runtime (the SDK), against a fake sidecar: the subscription delivers to the
/// handler, which calls the user's actor through the sidecar; the SDK's actor runtime hosts <see cref="UserActor"/>.
/// </summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private FakeDaprSidecar _sidecar = null!;
    private WebApplicationFactory<UserModelOptions> _app = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeDaprSidecar.StartAsync();
        _app = new WebApplicationFactory<UserModelOptions>().WithWebHostBuilder(b =>
        {
            _sidecar.Configure(b);
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(TestClock.Create()));
        });
        await _sidecar.ConnectAppAsync(AppIds.UserModel, _app.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public void Subscribe_UserEventsAndModelPublished_WithDeadLetters()
    {
        var subscriptions = _sidecar.SubscriptionsOf(AppIds.UserModel);

        Assert.Equal(
            [(Topics.ModelPublished, "events/model-published"), (Topics.UserEvents, "events/user-events")],
            subscriptions.Select(s => (s!["topic"]!.GetValue<string>(), s["route"]!.GetValue<string>())));
        Assert.All(subscriptions, s => Assert.Equal(Topics.DeadLetters, s!["deadLetterTopic"]!.GetValue<string>()));
    }

    [Fact]
    public void Startup_ReadsTheLatestPublishedModel()
    {
        var read = Assert.Single(_sidecar.CallsTo("GetState"));

        Assert.Equal((Components.ModelStore, StateKeys.LatestRankingModel), (read.Target, read.Key));
    }

    [Fact]
    public async Task UserEvent_GoesThroughTheUsersActor_WhichSavesItsLogAndStoresAndPublishesTheEmbedding()
    {
        var e = UserActorBehaviour.Event("e1", "c1", TestClock.Start);

        var (status, reply) = await _sidecar.DeliverAsync(AppIds.UserModel, Topics.UserEvents, "ce-1", JsonSerializer.Serialize(e, MeshJson.Options));

        Assert.Equal(200, status);
        Assert.Contains("SUCCESS", reply, StringComparison.Ordinal);
        var call = Assert.Single(_sidecar.CallsTo("InvokeActor"));
        Assert.Equal(($"{ActorTypes.User}/u1", nameof(IUserActor.RecordAsync), "PUT"), (call.Target, call.Key, call.HttpMethod));
        Assert.Equal("e1", call.Json.GetProperty("eventId").GetString());
        Assert.Equal("view", call.Json.GetProperty("kind").GetString());

        // The SDK's actor runtime saved the turn's state through the sidecar's actor state API.
        var log = _sidecar.ActorStateOf(ActorTypes.User, "u1", UserActor.ActivityKey);
        Assert.NotNull(log);
        Assert.Equal("e1", JsonDocument.Parse(log).RootElement.GetProperty("events")[0].GetProperty("eventId").GetString());

        // The embedding went to the embeddings store with its TTL, and out on user-embeddings.
        var save = Assert.Single(_sidecar.CallsTo("SaveState"), c => c.Target == Components.EmbeddingStore);
        Assert.Equal(StateKeys.User("u1"), save.Key);
        Assert.True(save.Metadata!.ContainsKey("ttlInSeconds"));
        var published = Assert.Single(_sidecar.CallsTo("PublishEvent"), c => c.Key == Topics.UserEmbeddings);
        Assert.Equal("u1", published.Json.GetProperty("userId").GetString());
    }

    [Fact]
    public async Task UserEvent_RedeliveredWithTheSameCloudEventId_TakesEffectOnce()
    {
        var e = JsonSerializer.Serialize(UserActorBehaviour.Event("e1", "c1", TestClock.Start), MeshJson.Options);

        await _sidecar.DeliverAsync(AppIds.UserModel, Topics.UserEvents, "ce-1", e);
        var (status, reply) = await _sidecar.DeliverAsync(AppIds.UserModel, Topics.UserEvents, "ce-1", e);

        Assert.Equal(200, status);
        Assert.Contains("SUCCESS", reply, StringComparison.Ordinal);
        Assert.Single(_sidecar.CallsTo("InvokeActor"));
        Assert.Single(_sidecar.CallsTo("PublishEvent"), c => c.Key == Topics.UserEmbeddings);
    }
}
