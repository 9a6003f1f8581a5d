using Dapr.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// Holds startup until the sidecar's components are ready, so the first publish or state call does not race daprd.
/// Hosted services start before the server listens, which is fine: <c>healthz/outbound</c> does not wait for the app,
/// while daprd itself waits for the app's port.
/// </summary>
internal sealed class DaprSidecarWait(DaprClient dapr, IOptions<DaprRuntimeOptions> options, TimeProvider clock, ILogger<DaprSidecarWait> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.WaitForSidecar)
        {
            return;
        }

        logger.LogInformation("Waiting up to {Timeout} for the Dapr sidecar", o.SidecarWaitTimeout);
        using var deadline = new CancellationTokenSource(o.SidecarWaitTimeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await dapr.WaitForSidecarAsync(linked.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"The Dapr sidecar was not ready within {o.SidecarWaitTimeout}. Check that daprd runs and that DAPR_HTTP_ENDPOINT "
                + "(or DAPR_HTTP_PORT) and DAPR_GRPC_ENDPOINT (or DAPR_GRPC_PORT) name it; DaprRuntime:WaitForSidecar=false skips the wait.");
        }

        logger.LogInformation("The Dapr sidecar is ready");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
