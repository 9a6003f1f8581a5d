using System.Globalization;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// How the app reaches its Dapr sidecar and how daprd reaches the app (section <c>DaprSidecar</c>). Unset values
/// come from the environment that <c>dapr run</c> and the Kubernetes injector set (protocol §1.1).
/// </summary>
public sealed class DaprSidecarOptions
{
    public const string SectionName = "DaprSidecar";

    /// <summary>
    /// Base URL of daprd's HTTP API. Default: <c>DAPR_HTTP_ENDPOINT</c>, else <c>http://127.0.0.1:${DAPR_HTTP_PORT}</c>,
    /// else <c>http://127.0.0.1:3500</c>.
    /// </summary>
    public string? HttpEndpoint { get; set; }

    /// <summary>Sent as <c>dapr-api-token</c> on every call to daprd. Default: <c>DAPR_API_TOKEN</c>; none when unset.</summary>
    public string? ApiToken { get; set; }

    /// <summary>
    /// The token daprd presents on every call into the app (<c>dapr-api-token</c>); callbacks without it get 401.
    /// Default: <c>APP_API_TOKEN</c>; no check when unset or empty.
    /// </summary>
    public string? AppApiToken { get; set; }

    /// <summary>Whether startup waits for <c>GET /v1.0/healthz/outbound</c> to answer 204. Default true.</summary>
    public bool WaitForSidecar { get; set; } = true;

    /// <summary>How long startup waits for the sidecar before it fails. Default 60 s.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Invoke as <c>POST /{method}</c> with a <c>dapr-app-id</c> header instead of <c>/v1.0/invoke/{app}/method/{method}</c>
    /// (both are daprd's, §1.5; the header form suits HTTP clients that only know a base address). Default false.
    /// </summary>
    public bool InvokeByAppIdHeader { get; set; }

    /// <summary>Keys daprd reads at once for a bulk get (<c>parallelism</c>). Default 10.</summary>
    public int BulkGetParallelism { get; set; } = 10;

    internal Uri BaseAddress => new(HttpEndpoint!.TrimEnd('/') + "/", UriKind.Absolute);

    internal static bool IsValid(DaprSidecarOptions options) =>
        Uri.TryCreate(options.HttpEndpoint, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && options.WaitTimeout > TimeSpan.Zero
        && options.BulkGetParallelism > 0;
}

/// <summary>
/// Fills what configuration left unset from the sidecar's environment variables. The environment is read here, once,
/// when the options are first built; the lookup is injectable so tests need not touch the process environment.
/// </summary>
internal sealed class DaprSidecarOptionsSetup(Func<string, string?> environment) : IConfigureOptions<DaprSidecarOptions>
{
    private const int DefaultHttpPort = 3500;

    public void Configure(DaprSidecarOptions options)
    {
        options.HttpEndpoint = Set(options.HttpEndpoint)
            ?? Set(environment("DAPR_HTTP_ENDPOINT"))
            ?? $"http://127.0.0.1:{Set(environment("DAPR_HTTP_PORT")) ?? DefaultHttpPort.ToString(CultureInfo.InvariantCulture)}";

        // Null means "not configured": an empty string in configuration deliberately turns a token off.
        options.ApiToken ??= Set(environment("DAPR_API_TOKEN"));
        options.AppApiToken ??= Set(environment("APP_API_TOKEN"));
    }

    private static string? Set(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
