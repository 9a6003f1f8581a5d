using System.Text.Json;
using Mesh.Runtime.Actors;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.UserModel.Tests;

/// <summary>
/// The real user-model app on the Dapr runtime, against a fake sidecar. The user actor's part under Dapr comes with the
/// SDK's actor runtime (issue 9); its behaviour suite (<see cref="UserActorBehaviour"/>) then gets a Dapr-host subclass.
/// </summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private FakeSidecar _sidecar = null!;
    private WebApplicationFactory<UserModelOptions> _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeSidecar.StartAsync();
        _app = new WebApplicationFactory<UserModelOptions>().WithWebHostBuilder(b =>
        {
            b.UseSetting("MeshRuntime:Runtime", "Dapr");
            b.UseSetting("DaprSidecar:HttpEndpoint", _sidecar.Url.ToString().TrimEnd('/'));
            b.UseSetting("DaprSidecar:WaitForSidecar", "false");

            // This runtime has no actor client until the SDK adapter lands; the app still needs one to start.
            b.ConfigureServices(services => services.AddSingleton<IActorInvoker, NoActors>());
        });
        _client = _app.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_UserEventsAndModelPublished()
    {
        var json = await _client.GetStringAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        var topics = JsonDocument.Parse(json).RootElement.EnumerateArray().Select(s => s.GetProperty("topic").GetString()).Order();
        Assert.Equal(["model-published", "user-events"], topics);
    }

    private sealed class NoActors : IActorInvoker
    {
        public Task<TResponse> InvokeAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken = default) =>
            throw new ActorInvocationException(actorType, actorId, method, 503, "no actor runtime");
    }
}
