using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Router.Tests;

/// <summary>
/// The router on the embedded runtime, composed as the standalone host composes it, with a scripted ranker behind
/// service invocation and a recorder on every topic the router publishes to.
/// </summary>
public sealed class RouterApp : IAsyncDisposable, IDisposable
{
    private readonly WebApplication _app;

    public RouterApp()
        : this(null)
    {
    }

    private RouterApp(IReadOnlyDictionary<string, string?>? settings)
    {
        var builder = WebApplication.CreateBuilder();
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.WebHost.UseTestServer();
        builder.Services.AddSingleton<TimeProvider>(Clock);
        builder.AddEmbeddedRuntime();
        builder.AddRouter();
        builder.Services.AddSingleton(Ranker);
        builder.Services.AddMethod<ScoreRequest, ScoreResponse, FakeRanker>(AppIds.Ranker, Methods.Score);
        builder.Services.AddSubscription<ImpressionsServed, EventRecorder<ImpressionsServed>>("observer", Topics.Impressions);
        builder.Services.AddSubscription<UserActed, EventRecorder<UserActed>>("observer", Topics.UserEvents);
        builder.Services.AddSubscription<FeedbackReceived, EventRecorder<FeedbackReceived>>("observer", Topics.Feedback);
        _app = builder.Build();
        _app.MapMeshDefaults();
        _app.MapRouter();
        _app.StartAsync().GetAwaiter().GetResult();
    }

    /// <summary>The router with configuration <paramref name="settings"/> (keys as on the command line, <c>FeatureSpace:Features:0:Name</c>).</summary>
    public static RouterApp WithSettings(IReadOnlyDictionary<string, string?> settings) => new(settings);

    public FakeTimeProvider Clock { get; } = TestClock.Create();
    public FakeRanker Ranker { get; } = new();
    public IServiceProvider Services => _app.Services;

    public EmbeddedBroker Broker => Services.GetRequiredService<EmbeddedBroker>();
    public IStateStore State => Services.GetRequiredService<IStateStore>();

    /// <summary>What the router published to a recorded topic.</summary>
    public IReadOnlyList<T> Published<T>() => Services.GetRequiredService<EventRecorder<T>>().All;

    public HttpClient CreateClient() => _app.GetTestClient();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    public void Dispose() => _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
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
