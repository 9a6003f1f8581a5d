using System.Text.Json;
using Dapr;
using Dapr.Client;
using Grpc.Net.Client;
using Mesh.Contracts;
using Mesh.Runtime.Actors;
using Mesh.Runtime.Faults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using DaprActorRuntimeOptions = Dapr.Actors.Runtime.ActorRuntimeOptions;

namespace Mesh.Runtime.Dapr;

public static class DaprRuntime
{
    internal const string GrpcEndpointKey = "DAPR_GRPC_ENDPOINT";
    internal const string HttpEndpointKey = "DAPR_HTTP_ENDPOINT";
    internal const string ApiTokenKey = "DAPR_API_TOKEN";
    internal const string AppApiTokenKey = "APP_API_TOKEN";
    private const string AppTokenPolicy = "Dapr";

    /// <summary>
    /// The ports over the Dapr SDK: how each service runs under <c>dapr run</c> and on Kubernetes. State and publish go
    /// over gRPC (<see cref="global::Dapr.Client.DaprClient"/>), invocation and actor calls over HTTP, both to the sidecar.
    /// </summary>
    public static IHostApplicationBuilder AddDaprRuntime(this IHostApplicationBuilder builder)
    {
        builder.AddMeshDefaults();
        var services = builder.Services;
        services.AddValidatedOptions<DaprRuntimeOptions>();
        var configuration = builder.Configuration;
        services.AddDaprClient((sp, dapr) =>
        {
            var limit = sp.GetRequiredService<IOptions<DaprRuntimeOptions>>().Value.MaxGrpcMessageSize;
            dapr.UseGrpcChannelOptions(new GrpcChannelOptions
            {
                MaxReceiveMessageSize = limit,
                MaxSendMessageSize = limit,
                ThrowOperationCanceledOnCancellation = true,
            });

            // Event and state bodies are the mesh's JSON (camelCase, enums as strings), as docs/events.md promises.
            dapr.UseJsonSerializationOptions(new JsonSerializerOptions(MeshJson.Options));

            // The SDK reads these from the environment; configuration (appsettings, tests) may name them too.
            if (configuration[GrpcEndpointKey] is { Length: > 0 } grpc)
            {
                dapr.UseGrpcEndpoint(grpc);
            }

            if (configuration[HttpEndpointKey] is { Length: > 0 } http)
            {
                dapr.UseHttpEndpoint(http);
            }

            if (configuration[ApiTokenKey] is { Length: > 0 } token)
            {
                dapr.UseDaprApiToken(token);
            }
        });
        services.AddActors(configure: null);
        services.AddSingleton<IConfigureOptions<DaprActorRuntimeOptions>, HostedActorsSetup>();

        // daprd presents APP_API_TOKEN as dapr-api-token on every call into the app; MapDaprRuntime requires it when set.
        services.AddAuthentication().AddDapr(o => o.Token = configuration[AppApiTokenKey] is { Length: > 0 } token ? token : o.Token);
        services.AddAuthorization(o => o.AddDapr(AppTokenPolicy));

        services.TryAddSingleton<IStateStore, DaprStateStore>();
        services.TryAddSingleton<IEventPublisher, DaprEventPublisher>();
        services.TryAddSingleton<IServiceInvoker>(_ => new DaprServiceInvoker(DaprClient.CreateInvokeHttpClient(
            daprEndpoint: configuration[HttpEndpointKey] is { Length: > 0 } http ? http : null,
            daprApiToken: configuration[ApiTokenKey])));
        services.TryAddSingleton<IActorInvoker, DaprActorInvoker>();
        services.WrapPortsWithFaults();
        services.AddHostedService<DaprSidecarWait>();
        return builder;
    }

    /// <summary>
    /// Maps the hosting defaults and what daprd calls on the app: <c>dapr/subscribe</c> and one route per subscription
    /// (CloudEvents unwrapped by <c>UseCloudEvents</c>), one per invocable method, and the actor callbacks when the app
    /// hosts actors. With <c>APP_API_TOKEN</c> set, each of them answers 401 without it; the health probes need none.
    /// </summary>
    public static WebApplication MapDaprRuntime(this WebApplication app)
    {
        // The CloudEvent id, as a Cloudevent.id header, is what redeliveries are deduplicated on.
        app.UseCloudEvents(new CloudEventsMiddlewareOptions { ForwardCloudEventPropertiesAsHeaders = true });
        app.MapMeshDefaults();

        var services = app.Services;
        var callbacks = new List<IEndpointConventionBuilder> { app.MapSubscribeHandler() };
        callbacks.AddRange(app.MapSubscriptions(services.GetServices<SubscriptionDescriptor>(), services.GetRequiredService<IOptions<MeshRuntimeOptions>>().Value.PubSubName));
        callbacks.AddRange(app.MapMethods(services.GetServices<MethodDescriptor>()));
        if (services.GetServices<HostedActorType>().Any())
        {
            callbacks.Add(app.MapActorsHandlers());
        }

        if (!string.IsNullOrEmpty(app.Configuration[AppApiTokenKey]))
        {
            foreach (var callback in callbacks)
            {
                callback.RequireAuthorization(AppTokenPolicy);
            }
        }

        return app;
    }
}
