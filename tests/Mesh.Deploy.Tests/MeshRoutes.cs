using Mesh.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Mesh.Deploy.Tests;

/// <summary>The paths <see cref="MeshDefaults.MapMeshDefaults"/> maps in every service (health probes, stats), read from a built app.</summary>
public static class MeshRoutes
{
    private static readonly Lazy<IReadOnlySet<string>> Paths = new(Read);

    public static IReadOnlySet<string> Mapped => Paths.Value;

    private static HashSet<string> Read()
    {
        var builder = WebApplication.CreateBuilder();
        builder.AddMeshDefaults();
        using var app = builder.Build();
        app.MapMeshDefaults();
        return
        [
            .. ((IEndpointRouteBuilder)app).DataSources
                .SelectMany(d => d.Endpoints)
                .OfType<RouteEndpoint>()
                .Select(e => "/" + e.RoutePattern.RawText?.TrimStart('/')),
        ];
    }
}
