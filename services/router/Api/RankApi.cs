using Mesh.Contracts;
using Mesh.Router.Embeddings;
using Mesh.Router.Features;
using Mesh.Router.Impressions;
using Mesh.Router.Routing;
using Mesh.Runtime;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Api;

/// <summary>The public API: rank ads for a user, and take in user events and feedback.</summary>
public static class RankApi
{
    private const string InvalidRank = "The rank request is invalid.";

    /// <summary>Maps the public endpoints; returns their group, to which the access checks apply.</summary>
    public static RouteGroupBuilder MapRankApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/v1").WithTags("Mesh");
        api.MapPost("/rank", RankAsync)
            .Accepts<RankRequest>("application/json")
            .WithSummary("Ranks candidate ads for a user and returns the top k.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        api.MapPost("/events", UserEventAsync)
            .Accepts<UserEventRequest>("application/json")
            .WithSummary("Records a user's organic activity (published to user-events).")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        api.MapPost("/feedback", FeedbackAsync)
            .Accepts<FeedbackRequest>("application/json")
            .WithSummary("Records feedback on a served impression: a click, an explicit no-click or a conversion (published to feedback).")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return api;
    }

    public static async Task<Results<Ok<RankResponse>, ValidationProblem, ProblemHttpResult>> RankAsync(
        HttpRequest http,
        EmbeddingCache embeddings,
        TierPolicy policy,
        IServiceInvoker invoker,
        ImpressionQueue impressions,
        RouterMetrics metrics,
        FeatureFilter features,
        IOptions<RouterOptions> options,
        TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        var (request, errors, tooLarge) = await JsonBody.ReadAsync<RankRequest>(http, options.Value.MaxBodyBytes, cancellationToken);
        errors ??= RankRequestValidation.Validate(request!, features);
        if (errors is not null)
        {
            metrics.CountRejected();
            return tooLarge ? JsonBody.TooLargeProblem(errors, InvalidRank) : TypedResults.ValidationProblem(errors, title: InvalidRank);
        }

        var requestId = Guid.NewGuid().ToString("N");
        var userId = request!.UserId!;
        // The features as the model reads them, to the ranker and into the impressions alike: the trainer learns from what was served.
        var context = request.Context ?? new RankContext();
        context = context with { Features = features.Served(context.Features, FeatureSide.Context) };
        var candidates = request.Candidates!.Select(c => c with { Category = c.Category ?? "", Features = features.Served(c.Features, FeatureSide.Candidate) }).ToList();
        var candidateFeatures = candidates.Where(c => c.Features is not null).ToDictionary(c => c.AdId!, c => c.Features, StringComparer.Ordinal);

        var embedding = await embeddings.GetAsync(userId, request.OccurredAt, cancellationToken);
        var embeddingMs = clock.GetElapsedTime(started).TotalMilliseconds;
        var budgetMs = request.BudgetMs ?? options.Value.DefaultBudgetMs;
        var decision = policy.Choose(candidates.Count, request.K, budgetMs - embeddingMs, request.ExitThreshold ?? options.Value.ExitThreshold);

        ScoreResponse score;
        var rankStarted = clock.GetTimestamp();
        try
        {
            using var _ = policy.Enter();
            score = await invoker.InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, new ScoreRequest
            {
                RequestId = requestId,
                UserId = userId,
                UserEmbedding = embedding.Vector,
                Context = context,
                Candidates = candidates,
                Cascade = decision.Cascade,
                OccurredAt = request.OccurredAt,
            }, cancellationToken);
        }
        catch (InvocationException e)
        {
            metrics.CountFailed();
            return TypedResults.Problem(
                title: "The ranker could not score this request.",
                detail: e.Message,
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var rankElapsed = clock.GetElapsedTime(rankStarted);
        metrics.RecordRankerCall(decision.Tier, rankElapsed);
        var rankMs = rankElapsed.TotalMilliseconds;
        policy.Observe(decision, candidates.Count, rankMs);

        var served = score.Items.Select((item, position) => new ServedImpression
        {
            ImpressionId = $"{requestId}-{position}",
            AdId = item.AdId,
            Category = item.Category,
            Position = position,
            Score = item.Score,
            Precomputed = item.Precomputed,
            PrecomputedVersion = item.PrecomputedVersion,
            PrecomputedAgeMs = item.PrecomputedAgeMs,
            Features = candidateFeatures.GetValueOrDefault(item.AdId),
        }).ToList();
        var servedAt = clock.GetUtcNow();
        await impressions.EnqueueAsync(new ImpressionsServed
        {
            RequestId = requestId,
            UserId = userId,
            ServedAt = servedAt,
            OccurredAt = request.OccurredAt ?? servedAt,
            Context = context,
            ModelVersion = score.ModelVersion,
            Tier = decision.Tier,
            Embedding = embedding,
            CandidateCount = candidates.Count,
            Items = served,
            FinalStage = score.FinalStage,
            Candidates = [.. candidates.Select(c => new Candidate { AdId = c.AdId, Category = c.Category })],
        }, cancellationToken);

        var totalMs = clock.GetElapsedTime(started).TotalMilliseconds;
        metrics.CountServed(embedding.Source, decision.Tier, totalMs, score);
        return TypedResults.Ok(new RankResponse
        {
            RequestId = requestId,
            Items = [.. served.Select(s => new RankedAd { AdId = s.AdId, Score = s.Score, ImpressionId = s.ImpressionId })],
            Tier = decision.Tier,
            ModelVersion = score.ModelVersion,
            Embedding = new EmbeddingInfo { Source = embedding.Source, ModelVersion = embedding.ModelVersion, AgeMs = Math.Round(embedding.AgeMs, 3) },
            PrecomputedHits = score.PrecomputedHits,
            Timings = new RankTimings { EmbeddingMs = Math.Round(embeddingMs, 3), RankMs = Math.Round(rankMs, 3), TotalMs = Math.Round(totalMs, 3) },
        });
    }

    public static Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> UserEventAsync(
        HttpRequest http, IEventPublisher publisher, IOptions<RouterOptions> options, TimeProvider clock, CancellationToken cancellationToken) =>
        AcceptAsync<UserEventRequest, UserActed>(http, publisher, options, Topics.UserEvents, "The user event is invalid.", RankRequestValidation.Validate, r => new UserActed
        {
            EventId = Guid.NewGuid().ToString("N"),
            UserId = r.UserId!,
            Kind = r.Kind,
            ItemId = r.ItemId!,
            Category = r.Category ?? "",
            OccurredAt = r.OccurredAt ?? clock.GetUtcNow(),
        }, cancellationToken);

    public static Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> FeedbackAsync(
        HttpRequest http, IEventPublisher publisher, IOptions<RouterOptions> options, TimeProvider clock, CancellationToken cancellationToken) =>
        AcceptAsync<FeedbackRequest, FeedbackReceived>(http, publisher, options, Topics.Feedback, "The feedback is invalid.", RankRequestValidation.Validate, r => new FeedbackReceived
        {
            FeedbackId = Guid.NewGuid().ToString("N"),
            ImpressionId = r.ImpressionId!,
            UserId = r.UserId!,
            AdId = r.AdId!,
            Kind = r.Kind,
            OccurredAt = r.OccurredAt ?? clock.GetUtcNow(),
        }, cancellationToken);

    /// <summary>Reads and validates an ingestion request and publishes its event; 202 means the pub/sub holds it.</summary>
    private static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> AcceptAsync<TRequest, TEvent>(
        HttpRequest http,
        IEventPublisher publisher,
        IOptions<RouterOptions> options,
        string topic,
        string invalidTitle,
        Func<TRequest, Dictionary<string, string[]>?> validate,
        Func<TRequest, TEvent> toEvent,
        CancellationToken cancellationToken)
        where TRequest : class
    {
        var (request, errors, tooLarge) = await JsonBody.ReadAsync<TRequest>(http, options.Value.MaxBodyBytes, cancellationToken);
        errors ??= validate(request!);
        if (errors is not null)
        {
            return tooLarge ? JsonBody.TooLargeProblem(errors, invalidTitle) : TypedResults.ValidationProblem(errors, title: invalidTitle);
        }

        await publisher.PublishAsync(topic, toEvent(request!), cancellationToken);
        return TypedResults.Accepted((string?)null);
    }
}
