using Mesh.Contracts;
using Mesh.Router;
using Mesh.Router.Api;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Mesh.Standalone;

/// <summary>
/// The load benchmark's baseline: the same body read, parsed and validated as <c>/v1/rank</c>, and a reply of the same
/// shape, without embedding lookup, ranking or publishing. The ratio of the two throughputs is the cost of ranking.
/// </summary>
public static class BareRankApi
{
    public static IEndpointRouteBuilder MapBareRank(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/bench/bare-rank", BareRankAsync).ExcludeFromDescription();
        return endpoints;
    }

    public static async Task<Results<Ok<RankResponse>, ValidationProblem, ProblemHttpResult>> BareRankAsync(HttpRequest http, IOptions<RouterOptions> options, CancellationToken cancellationToken)
    {
        var (request, errors, tooLarge) = await JsonBody.ReadAsync<RankRequest>(http, options.Value.MaxBodyBytes, cancellationToken);
        errors ??= RankRequestValidation.Validate(request!);
        if (errors is not null)
        {
            return tooLarge ? JsonBody.TooLargeProblem(errors, "The rank request is invalid.") : TypedResults.ValidationProblem(errors);
        }

        var requestId = Guid.NewGuid().ToString("N");
        return TypedResults.Ok(new RankResponse
        {
            RequestId = requestId,
            Items = [.. request!.Candidates!.Take(request.K).Select((c, i) => new RankedAd { AdId = c.AdId!, Score = 0, ImpressionId = $"{requestId}-{i}" })],
            Tier = "none",
            ModelVersion = 0,
            Embedding = new EmbeddingInfo { Source = EmbeddingSource.Default, ModelVersion = 0, AgeMs = 0 },
            PrecomputedHits = 0,
            Timings = new RankTimings { EmbeddingMs = 0, RankMs = 0, TotalMs = 0 },
        });
    }
}
