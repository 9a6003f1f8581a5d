using Mesh.Runtime.Dapr;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Tests.Sidecar;

/// <summary>A fresh fake daprd and a host on the Dapr runtime wired to it, for each test of the sidecar client.</summary>
public abstract class SidecarClientTests : IAsyncLifetime
{
    private FakeSidecar? _sidecar;
    private IHost? _host;

    protected FakeSidecar Sidecar => _sidecar ?? throw new InvalidOperationException("Not initialized.");
    protected IHost Host => _host ?? throw new InvalidOperationException("Not initialized.");
    protected DaprSidecarClient Client => Host.Services.GetRequiredService<DaprSidecarClient>();

    public async Task InitializeAsync()
    {
        _sidecar = await FakeSidecar.StartAsync();
        _host = SidecarHost.Build(_sidecar);
    }

    public async Task DisposeAsync()
    {
        _host?.Dispose();
        if (_sidecar is not null)
        {
            await _sidecar.DisposeAsync();
        }
    }
}
