using System.ComponentModel.DataAnnotations;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// How a service starts under Dapr (section <c>DaprRuntime</c>). Where the sidecar is and the tokens are not here: the
/// SDK reads <c>DAPR_GRPC_ENDPOINT</c>/<c>DAPR_GRPC_PORT</c>, <c>DAPR_HTTP_ENDPOINT</c>/<c>DAPR_HTTP_PORT</c>,
/// <c>DAPR_API_TOKEN</c> and <c>APP_API_TOKEN</c>, from configuration first, then the environment.
/// </summary>
public sealed class DaprRuntimeOptions
{
    /// <summary>Whether startup waits until the sidecar's outbound side is ready (<c>healthz/outbound</c>). Default true.</summary>
    public bool WaitForSidecar { get; set; } = true;

    /// <summary>How long startup waits for the sidecar before it fails. Default 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan SidecarWaitTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Largest gRPC message to or from the sidecar, in bytes. Default 64 MiB: a model checkpoint in the <c>models</c>
    /// store is about 23 MB, over gRPC's own 4 MiB default. daprd has its own limit (<c>dapr.io/max-body-size</c>).
    /// </summary>
    [Range(4 << 20, int.MaxValue)]
    public int MaxGrpcMessageSize { get; set; } = 64 << 20;
}
