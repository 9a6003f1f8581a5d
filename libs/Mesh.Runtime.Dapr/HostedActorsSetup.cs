using System.Text.Json;
using Dapr.Actors.Runtime;
using Mesh.Contracts;
using Mesh.Runtime.Actors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using ActorRegistration = Dapr.Actors.Runtime.ActorRegistration;
using ActorRuntimeOptions = Dapr.Actors.Runtime.ActorRuntimeOptions;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// Registers every <see cref="HostedActorType"/> with the SDK's actor runtime, with the mesh's JSON for method
/// arguments and state, and points the runtime (and the actor proxies) at the sidecar named in configuration.
/// </summary>
internal sealed class HostedActorsSetup(IEnumerable<HostedActorType> actors, IConfiguration configuration) : IConfigureOptions<ActorRuntimeOptions>
{
    public void Configure(ActorRuntimeOptions options)
    {
        foreach (var actor in actors)
        {
            options.Actors.Add(new ActorRegistration(ActorTypeInformation.Get(actor.ImplementationType, actor.ActorType)));
        }

        options.JsonSerializerOptions = new JsonSerializerOptions(MeshJson.Options);

        // The SDK takes these from the environment only; configuration also covers appsettings and tests.
        if (configuration[DaprRuntime.HttpEndpointKey] is { Length: > 0 } endpoint)
        {
            options.HttpEndpoint = endpoint;
        }

        if (configuration[DaprRuntime.ApiTokenKey] is { Length: > 0 } token)
        {
            options.DaprApiToken = token;
        }
    }
}
