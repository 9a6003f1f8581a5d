namespace Mesh.Runtime.Dapr;

/// <summary>
/// daprd refused a call or could not be reached. <see cref="StatusCode"/> is daprd's HTTP status (null when it was
/// unreachable) and <see cref="ErrorCode"/> the <c>errorCode</c> of its error body (e.g. <c>ERR_PUBSUB_NOT_FOUND</c>).
/// </summary>
public sealed class DaprSidecarException(string message, int? statusCode = null, string? errorCode = null, Exception? inner = null)
    : Exception(message, inner)
{
    public int? StatusCode { get; } = statusCode;
    public string? ErrorCode { get; } = errorCode;
}
