using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Mesh.Contracts;

namespace Mesh.World.Tests;

/// <summary>
/// The mesh's public API, faked: <c>/v1/rank</c> serves the first k candidates with <see cref="Score"/>, and every call is
/// recorded with the clock's time at arrival. Impression ids hash the request body, so they do not depend on arrival order.
/// </summary>
public sealed class FakeMesh(TimeProvider clock) : HttpMessageHandler
{
    public double Score { get; set; } = 0.05;

    public HttpStatusCode RankStatus { get; set; } = HttpStatusCode.OK;

    /// <summary>Every call fails as if the router could not be reached.</summary>
    public bool Unreachable { get; set; }

    public ConcurrentQueue<RankRequest> RankRequests { get; } = new();
    public ConcurrentQueue<RankedAd> Served { get; } = new();
    public ConcurrentQueue<UserEventRequest> Events { get; } = new();
    public ConcurrentQueue<(FeedbackRequest Feedback, DateTimeOffset ReceivedAt)> Feedback { get; } = new();

    /// <summary>Completes once at least <see cref="RankTarget"/> rank requests have arrived.</summary>
    public TaskCompletionSource RankTargetReached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int RankTarget { get; set; } = int.MaxValue;

    public HttpClient CreateClient() => new(this) { BaseAddress = new Uri("http://router.test/") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Unreachable)
        {
            throw new HttpRequestException("router.test is unreachable");
        }

        var path = request.RequestUri!.AbsolutePath;
        var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
        switch (path)
        {
            case "/v1/events":
                Events.Enqueue(MeshJson.Deserialize<UserEventRequest>(body));
                return new HttpResponseMessage(HttpStatusCode.Accepted);
            case "/v1/feedback":
                Feedback.Enqueue((MeshJson.Deserialize<FeedbackRequest>(body), clock.GetUtcNow()));
                return new HttpResponseMessage(HttpStatusCode.Accepted);
            case "/v1/rank":
                var rank = MeshJson.Deserialize<RankRequest>(body);
                RankRequests.Enqueue(rank);
                if (RankRequests.Count >= RankTarget)
                {
                    RankTargetReached.TrySetResult();
                }

                if (RankStatus != HttpStatusCode.OK)
                {
                    return new HttpResponseMessage(RankStatus);
                }

                var requestId = Convert.ToHexString(SHA256.HashData(body))[..16];
                var items = rank.Candidates!.Take(rank.K).Select((c, i) => new RankedAd
                {
                    AdId = c.AdId!,
                    Score = Score,
                    ImpressionId = $"{requestId}-{i}",
                }).ToList();
                foreach (var item in items)
                {
                    Served.Enqueue(item);
                }

                return new HttpResponseMessage(HttpStatusCode.OK)
                {
                    Content = JsonContent.Create(new RankResponse
                    {
                        RequestId = requestId,
                        Items = items,
                        Tier = "fake",
                        ModelVersion = 0,
                        Embedding = new EmbeddingInfo { Source = EmbeddingSource.Default, ModelVersion = 0, AgeMs = 0 },
                        PrecomputedHits = 0,
                        Timings = new RankTimings { EmbeddingMs = 0, RankMs = 0, TotalMs = 0 },
                    }, options: MeshJson.Options),
                };
            default:
                return new HttpResponseMessage(HttpStatusCode.NotFound);
        }
    }
}
