using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// Holds startup until daprd's outbound side is ready, so the first publish or state call does not race the
/// sidecar. Hosted services start before the server listens, which is fine: <c>/healthz/outbound</c> does not need
/// the app channel (§1.6), while daprd itself waits for the app port (§2.1).
/// </summary>
internal sealed class DaprSidecarStartup(DaprSidecarClient client, IOptions<DaprSidecarOptions> options, ILogger<DaprSidecarStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.WaitForSidecar)
        {
            return;
        }

        logger.LogInformation("Waiting up to {Timeout} for the Dapr sidecar at {Endpoint}", o.WaitTimeout, client.Endpoint);
        await client.WaitForSidecarAsync(o.WaitTimeout, cancellationToken);
        logger.LogInformation("Dapr sidecar at {Endpoint} is ready", client.Endpoint);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
