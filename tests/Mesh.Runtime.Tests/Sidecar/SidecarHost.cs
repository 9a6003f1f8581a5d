using Mesh.Runtime.Dapr;
using Mesh.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Tests.Sidecar;

/// <summary>A host wired with <c>AddDaprRuntime</c> whose sidecar is a <see cref="FakeSidecar"/>.</summary>
internal static class SidecarHost
{
    public static IHost Build(FakeSidecar sidecar, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null) =>
        Build(sidecar.Url.ToString(), settings, services);

    public static IHost Build(string endpoint, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DaprSidecar:HttpEndpoint"] = endpoint,
            ["DaprSidecar:WaitForSidecar"] = "false",
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        services?.Invoke(builder.Services);
        builder.AddDaprRuntime();
        return builder.Build();
    }
}

public sealed record Order(string Id, int Quantity);
