using Dapr.Client;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// <see cref="IEventPublisher"/> over <see cref="DaprClient.PublishEventAsync{TData}(string, string, TData, CancellationToken)"/>:
/// the data goes as <c>application/json</c>, so daprd embeds it as the CloudEvent's <c>data</c> object.
/// </summary>
public sealed class DaprEventPublisher(DaprClient dapr, IOptions<MeshRuntimeOptions> options, DeliveryMetrics metrics) : IEventPublisher
{
    private readonly string _pubSubName = options.Value.PubSubName;

    public async Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default)
    {
        await dapr.PublishEventAsync(_pubSubName, topic, data, cancellationToken);
        metrics.CountPublished();
    }
}
