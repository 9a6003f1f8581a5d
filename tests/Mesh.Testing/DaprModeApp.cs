using Microsoft.AspNetCore.Mvc.Testing;

namespace Mesh.Testing;

/// <summary>
/// A service's real app on the Dapr runtime, wired to a <see cref="FakeSidecar"/> on loopback. The sidecar wait is
/// kept on: the fake answers <c>/v1.0/healthz/outbound</c> as daprd does.
/// </summary>
public sealed class DaprModeApp<TEntryPoint> : IAsyncDisposable
    where TEntryPoint : class
{
    internal DaprModeApp(FakeSidecar sidecar, WebApplicationFactory<TEntryPoint> app)
    {
        Sidecar = sidecar;
        App = app;
    }

    public FakeSidecar Sidecar { get; }
    public WebApplicationFactory<TEntryPoint> App { get; }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Sidecar.DisposeAsync();
    }
}

public static class DaprModeApp
{
    /// <summary>Starts a fake sidecar and the app of <typeparamref name="TEntryPoint"/>'s assembly wired to it, with extra settings.</summary>
    public static async Task<DaprModeApp<TEntryPoint>> StartAsync<TEntryPoint>(params (string Key, string Value)[] settings)
        where TEntryPoint : class
    {
        var sidecar = await FakeSidecar.StartAsync();
        var app = new WebApplicationFactory<TEntryPoint>().WithWebHostBuilder(b =>
        {
            b.UseSetting("MeshRuntime:Runtime", "Dapr");
            b.UseSetting("DaprSidecar:HttpEndpoint", sidecar.Url.ToString().TrimEnd('/'));
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }
        });
        return new DaprModeApp<TEntryPoint>(sidecar, app);
    }
}
