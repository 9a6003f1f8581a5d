using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Dapr.Embedded;
using Mesh.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Router.Tests;

/// <summary>
/// The router's real app on the embedded runtime, with a scripted ranker behind service invocation and a
/// recorder on every topic the router publishes to.
/// </summary>
public sealed class RouterApp : WebApplicationFactory<RouterOptions>
{
    public FakeTimeProvider Clock { get; } = TestClock.Create();
    public FakeRanker Ranker { get; } = new();

    public EmbeddedBroker Broker => Services.GetRequiredService<EmbeddedBroker>();
    public IStateStore State => Services.GetRequiredService<IStateStore>();

    /// <summary>What the router published to a recorded topic.</summary>
    public IReadOnlyList<T> Published<T>() => Services.GetRequiredService<EventRecorder<T>>().All;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("MeshRuntime:Runtime", "Embedded");
        builder.ConfigureServices(services =>
        {
            services.AddSingleton<TimeProvider>(Clock);
            services.AddSingleton(Ranker);
            services.AddMethod<ScoreRequest, ScoreResponse, FakeRanker>(AppIds.Ranker, Methods.Score);
            services.AddSubscription<ImpressionsServed, EventRecorder<ImpressionsServed>>("observer", Topics.Impressions);
            services.AddSubscription<UserActed, EventRecorder<UserActed>>("observer", Topics.UserEvents);
            services.AddSubscription<FeedbackReceived, EventRecorder<FeedbackReceived>>("observer", Topics.Feedback);
        });
    }
}

/// <summary>Scores candidates by their position (first = best), or fails when told to; records each request.</summary>
public sealed class FakeRanker : IMethodHandler<ScoreRequest, ScoreResponse>
{
    private readonly List<ScoreRequest> _requests = [];

    public bool Fail { get; set; }

    public IReadOnlyList<ScoreRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public Task<ScoreResponse> HandleAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        lock (_requests)
        {
            _requests.Add(request);
        }

        if (Fail)
        {
            throw new InvalidOperationException("ranker down");
        }

        var keep = request.Cascade[^1].Keep;
        return Task.FromResult(new ScoreResponse
        {
            ModelVersion = 7,
            Items = [.. request.Candidates.Take(keep).Select((c, i) => new ScoredCandidate { AdId = c.AdId!, Category = c.Category!, Score = 0.5 / (i + 1) })],
            PrecomputedHits = 1,
            PrecomputedLookups = 4,
        });
    }
}
