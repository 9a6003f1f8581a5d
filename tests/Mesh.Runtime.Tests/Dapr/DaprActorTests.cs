using Mesh.Runtime.Actors;

namespace Mesh.Runtime.Tests.Dapr;

/// <summary>
/// A Dapr.Actors actor registered with AddActorType, called through <see cref="IActorInvoker"/>: the SDK's proxy goes to
/// the fake sidecar, which calls the app's MapActorsHandlers routes; the actor's state goes back through the actor state API.
/// </summary>
public sealed class DaprActorTests : IAsyncLifetime
{
    private DaprTestApp _app = null!;

    private IActorInvoker Actors => _app.Get<IActorInvoker>();

    public async Task InitializeAsync() => _app = await DaprTestApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Invoke_RunsTheActorAndSavesItsStateThroughTheSidecar()
    {
        var first = await Actors.InvokeAsync<TallyRequest, TallyResult>(TallyActor.Type, "a", "AddAsync", new TallyRequest(2, TallyKind.Plain));
        var second = await Actors.InvokeAsync<TallyRequest, TallyResult>(TallyActor.Type, "a", "AddAsync", new TallyRequest(3, TallyKind.BigStep));

        Assert.Equal((new TallyResult(2, TallyKind.Plain), new TallyResult(5, TallyKind.BigStep)), (first, second));
        var call = _app.Sidecar.CallsTo("InvokeActor")[0];
        Assert.Equal(("tally/a", "AddAsync", "PUT"), (call.Target, call.Key, call.HttpMethod));
        Assert.Equal("""{"amount":2,"kind":"plain"}""", call.BodyText);
        Assert.Equal(["2", "5"], _app.Sidecar.CallsTo("SaveActorState").Select(c => c.BodyText));
        Assert.Equal("5", _app.Sidecar.ActorStateOf(TallyActor.Type, "a", TallyActor.TotalKey));
    }

    [Fact]
    public async Task Invoke_ActorThrows_500AndNoStateSaved()
    {
        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => Actors.InvokeAsync<long, long>(TallyActor.Type, "b", "FailAsync", 9));

        Assert.Equal((TallyActor.Type, "b", "FailAsync", 500), (e.ActorType, e.ActorId, e.Method, e.StatusCode));
        Assert.Empty(_app.Sidecar.CallsTo("SaveActorState"));
    }

    [Fact]
    public async Task Invoke_BlankId_400WithoutACall()
    {
        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => Actors.InvokeAsync<long, long>(TallyActor.Type, " ", "AddAsync", 1));

        Assert.Equal(400, e.StatusCode);
        Assert.Empty(_app.Sidecar.CallsTo("InvokeActor"));
    }

    [Fact]
    public async Task Config_DeclaresTheHostedActorType()
    {
        var config = await _app.Client.GetStringAsync(new Uri("/dapr/config", UriKind.Relative));

        Assert.Contains("\"entities\":[\"tally\"]", config, StringComparison.Ordinal);
    }
}
