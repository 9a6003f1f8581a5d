using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Api;

/// <summary>
/// The public API's optional access checks, both ASP.NET Core's own machinery: an authentication scheme that knows a
/// client by its API key (<see cref="ApiAccessOptions.Keys"/>), and a token-bucket rate limiter per client
/// (<see cref="ApiAccessOptions.TokensPerPeriod"/>). Each applies to the public endpoints only when configured, so the
/// default host pays for neither.
/// </summary>
public static class ApiAccess
{
    /// <summary>Name of the API-key authentication scheme and of the authorization policy that requires it.</summary>
    public const string Scheme = "ApiKey";

    /// <summary>Name of the per-client rate-limiting policy.</summary>
    public const string RateLimitPolicy = "per-client";

    public static IServiceCollection AddApiAccess(this IServiceCollection services)
    {
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(Scheme, configureOptions: null);
        services.AddAuthorization(o => o.AddPolicy(Scheme, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser()));
        services.AddRateLimiter(o =>
        {
            o.OnRejected = RejectAsync;
            o.AddPolicy(RateLimitPolicy, http =>
            {
                var access = http.RequestServices.GetRequiredService<IOptions<ApiAccessOptions>>().Value;
                return RateLimitPartition.GetTokenBucketLimiter(ClientOf(http), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = access.TokenLimit,
                    TokensPerPeriod = access.TokensPerPeriod,
                    ReplenishmentPeriod = access.ReplenishmentPeriod,
                    QueueLimit = 0, // a client over its rate is told at once, never parked holding a connection
                });
            });
        });
        return services;
    }

    /// <summary>Applies the configured checks to the public endpoints of <paramref name="api"/>.</summary>
    public static RouteGroupBuilder RequireApiAccess(this RouteGroupBuilder api, ApiAccessOptions access)
    {
        if (access.Keys.Count > 0)
        {
            api.RequireAuthorization(Scheme);
        }

        if (access.TokensPerPeriod > 0)
        {
            api.RequireRateLimiting(RateLimitPolicy);
        }

        return api;
    }

    /// <summary>Who the rate limit counts: the API key's client, else the remote address (behind a proxy, the proxy's unless forwarded headers are configured).</summary>
    private static string ClientOf(HttpContext http) =>
        http.User.Identity is { IsAuthenticated: true, Name: { } name } ? $"key:{name}" : $"ip:{http.Connection.RemoteIpAddress ?? IPAddress.None}";

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var http = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests.", Detail = "This client is over its request rate; retry after the time in Retry-After." },
        });
    }

    /// <summary>Knows a client by the key in <see cref="ApiAccessOptions.KeyHeader"/>; without keys configured it authenticates nobody and is never asked.</summary>
    private sealed class ApiKeyHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
        ILoggerFactory logger,
        UrlEncoder encoder,
        IOptions<ApiAccessOptions> access,
        IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(ApiAccessOptions.KeyHeader, out var presented) || presented.Count != 1 || string.IsNullOrEmpty(presented[0]))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            // Compared as SHA-256 digests in constant time, so neither the keys' lengths nor their prefixes leak through timing.
            var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented[0]!));
            foreach (var (client, key) in access.Value.Keys)
            {
                if (CryptographicOperations.FixedTimeEquals(digest, SHA256.HashData(Encoding.UTF8.GetBytes(key))))
                {
                    var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, client)], ApiAccess.Scheme);
                    return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiAccess.Scheme)));
                }
            }

            return Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        }

        protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            Response.Headers.WWWAuthenticate = $"{ApiAccess.Scheme} header=\"{ApiAccessOptions.KeyHeader}\"";
            var known = Request.Headers.ContainsKey(ApiAccessOptions.KeyHeader);
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = Context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status401Unauthorized,
                    Title = known ? "The API key is not valid." : "An API key is required.",
                    Detail = $"Send a valid key in the {ApiAccessOptions.KeyHeader} header.",
                },
            });
        }
    }
}
