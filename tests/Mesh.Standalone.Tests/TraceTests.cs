using System.Diagnostics;
using System.Net.Http.Json;
using Mesh.Contracts;
using Mesh.Ranker;
using Mesh.Router;
using Mesh.Router.Impressions;
using Mesh.Runtime.Telemetry;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Mesh.Standalone.Tests;

/// <summary>
/// One rank request is one trace (issue 13): the router's request, the embedding read, the ranker call and its tier
/// runs, and the publish of its impressions share the trace id the caller sent, on the embedded runtime and through
/// the Dapr sidecar (faked). Spans come from an in-memory exporter; other tests' hosts in the process trace too, so
/// the assertions look only at the trace this test started.
/// </summary>
public sealed class TraceTests
{
    private static readonly RankRequest Request = new()
    {
        UserId = "u1",
        Candidates = [.. Enumerable.Range(0, 30).Select(i => new Candidate { AdId = $"a{i}", Category = $"c{i % 3}" })],
        K = 5,
        BudgetMs = RankRequest.MaxBudgetMs,
    };

    [Fact]
    public async Task Rank_Standalone_IsOneTraceFromRequestToImpressionsDelivered()
    {
        var spans = new List<Activity>();
        await using var mesh = new StandaloneMesh { ConfigureServices = s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)) };
        var client = mesh.CreateClient();
        var (traceId, traceParent) = NewTrace();
        using var ended = new SpansEnded(traceId, ("Microsoft.AspNetCore", "POST /v1/rank"));

        using var response = await Send(client, traceParent);
        await mesh.SettleAsync();
        await ended.Task;

        response.EnsureSuccessStatusCode();
        var trace = InTrace(spans, traceId);
        Assert.Contains(trace, a => a.Source.Name == "Microsoft.AspNetCore" && a.DisplayName == "POST /v1/rank");
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Router, "embedding read"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName, a.Kind) == (MeshTelemetry.RuntimeName, "ranker/score", ActivityKind.Client));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Ranker, "tier small"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Ranker, "tier large"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Router, "publish impressions"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName, a.Kind) == (MeshTelemetry.RuntimeName, "impressions publish", ActivityKind.Producer));

        // What the impressions cause downstream joins the trace: the trainer's and precompute's deliveries.
        var processed = trace.Where(a => a.DisplayName == "impressions process").Select(a => a.GetTagItem("mesh.app_id")).ToList();
        Assert.Contains(AppIds.Trainer, processed);
        Assert.Contains(AppIds.Precompute, processed);
    }

    [Fact]
    public async Task Rank_DaprModeThroughTheSidecar_IsOneTraceAcrossRouterAndRanker()
    {
        var spans = new List<Activity>();
        await using var sidecar = await FakeDaprSidecar.StartAsync();
        await using var ranker = new WebApplicationFactory<RankerOptions>().WithWebHostBuilder(b =>
        {
            sidecar.Configure(b);
            b.UseSetting("Ranker:PrecomputedTimeout", "00:01:00");
        });
        await sidecar.ConnectAppAsync(AppIds.Ranker, ranker.CreateClient());
        await using var router = new WebApplicationFactory<RouterOptions>().WithWebHostBuilder(b =>
        {
            sidecar.Configure(b);
            b.UseSetting("Router:StoreTimeout", "00:01:00");
            b.ConfigureServices(s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        });
        sidecar.SetState(Components.EmbeddingStore, "u1", """{"vector":[],"modelVersion":0,"computedAt":"2026-01-05T12:00:00+00:00","eventCount":0}""");
        var client = router.CreateClient();
        var (traceId, traceParent) = NewTrace();
        using var ended = new SpansEnded(traceId, ("Microsoft.AspNetCore", "POST /v1/rank"), ("Microsoft.AspNetCore", "POST score"));

        using var response = await Send(client, traceParent);
        await router.Services.GetRequiredService<ImpressionQueue>().WhenPublishedAsync();
        await ended.Task;

        response.EnsureSuccessStatusCode();
        var trace = InTrace(spans, traceId);
        Assert.Contains(trace, a => a.Source.Name == "Microsoft.AspNetCore" && a.DisplayName == "POST /v1/rank");
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Router, "embedding read"));
        Assert.Contains(trace, a => a.Source.Name == "System.Net.Http" && a.Kind == ActivityKind.Client && a.GetTagItem("url.full") is string url && url.Contains("/score", StringComparison.Ordinal));
        Assert.Contains(trace, a => a.Source.Name == "Microsoft.AspNetCore" && a.DisplayName == "POST score");
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Ranker, "tier small"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Ranker, "tier large"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName) == (AppIds.Router, "publish impressions"));
        Assert.Contains(trace, a => (a.Source.Name, a.DisplayName, a.Kind) == (MeshTelemetry.RuntimeName, "impressions publish", ActivityKind.Producer));

        // daprd gets the trace on the invocation's header and in the publish's cloudevent.traceparent metadata.
        Assert.Equal(traceId, TraceIdOf(Assert.Single(sidecar.CallsTo("InvokeService")).TraceParent));
        var publish = Assert.Single(sidecar.CallsTo("PublishEvent"));
        Assert.Equal(traceId, TraceIdOf(publish.Metadata!["cloudevent.traceparent"]));
    }

    [Fact]
    public async Task Deliver_DaprModeCloudEventWithTraceparent_ProcessesTheEventInThatTrace()
    {
        var spans = new List<Activity>();
        await using var sidecar = await FakeDaprSidecar.StartAsync();
        await using var ranker = new WebApplicationFactory<RankerOptions>().WithWebHostBuilder(b =>
        {
            sidecar.Configure(b);
            b.ConfigureServices(s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        });
        await sidecar.ConnectAppAsync(AppIds.Ranker, ranker.CreateClient());
        var (traceId, traceParent) = NewTrace();
        using var ended = new SpansEnded(traceId, ("Microsoft.AspNetCore", "POST events/model-published"));

        await sidecar.DeliverAsync(AppIds.Ranker, Topics.ModelPublished, Guid.NewGuid().ToString(), """
            {"schemaVersion":1,"modelName":"ranker","version":3,"checkpointKey":"ranker.v3","publishedAt":"2026-01-05T12:00:00Z",
             "trainedExamples":6000,"validationNe":0.93,"previousNe":0.95}
            """, source: AppIds.Trainer, traceParent: traceParent);
        await ended.Task;

        var process = Assert.Single(InTrace(spans, traceId), a => a.DisplayName == "model-published process");
        Assert.Equal((MeshTelemetry.RuntimeName, ActivityKind.Consumer, AppIds.Ranker), (process.Source.Name, process.Kind, process.GetTagItem("mesh.app_id")));
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, string traceParent)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "/v1/rank") { Content = JsonContent.Create(Request, options: MeshJson.Options) };
        message.Headers.Add("traceparent", traceParent);
        return client.SendAsync(message);
    }

    private static (ActivityTraceId TraceId, string TraceParent) NewTrace()
    {
        var traceId = ActivityTraceId.CreateRandom();
        return (traceId, $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
    }

    private static ActivityTraceId? TraceIdOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, null, out var context) ? context.TraceId : null;

    // The exporter adds to its list as spans end, on any thread, without a lock the test could take: copy it again
    // if a span of another test's host ended while copying.
    private static List<Activity> InTrace(List<Activity> spans, ActivityTraceId traceId)
    {
        while (true)
        {
            try
            {
                return [.. spans.Where(a => a.TraceId == traceId)];
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    /// <summary>
    /// Completes when the named spans of a trace have ended: a server span may end just after its reply reached the
    /// client. Created after the hosts are built, so its listener hears each span after the hosts' exporters do.
    /// </summary>
    private sealed class SpansEnded : IDisposable
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly HashSet<(string Source, string Name)> _waiting;
        private readonly ActivityListener _listener;

        public SpansEnded(ActivityTraceId traceId, params (string Source, string Name)[] spans)
        {
            _waiting = [.. spans];
            _listener = new ActivityListener
            {
                ShouldListenTo = s => spans.Any(w => w.Source == s.Name),
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
                ActivityStopped = a =>
                {
                    if (a.TraceId != traceId)
                    {
                        return;
                    }

                    lock (_waiting)
                    {
                        if (_waiting.Remove((a.Source.Name, a.DisplayName)) && _waiting.Count == 0)
                        {
                            _done.TrySetResult();
                        }
                    }
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        // Bounded, so a missing span fails the test instead of hanging it.
        public Task Task => _done.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public void Dispose() => _listener.Dispose();
    }
}
