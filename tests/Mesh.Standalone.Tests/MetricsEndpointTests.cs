using System.Net.Http.Json;
using Mesh.Contracts;

namespace Mesh.Standalone.Tests;

/// <summary>
/// <c>/metrics</c> on the standalone host (issue 13): Prometheus text listing the per-hop histograms, the delivery
/// counters, the instruments read from <c>/v1/stats</c> and the runtime's, once a rank request has been served.
/// </summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_AfterARankRequest_ListsTheMeshInstrumentsInPrometheusText()
    {
        await using var mesh = new StandaloneMesh();
        var client = mesh.CreateClient();
        using var rank = await client.PostAsJsonAsync("/v1/rank", new RankRequest
        {
            UserId = "u1",
            Candidates = [.. Enumerable.Range(0, 30).Select(i => new Candidate { AdId = $"a{i}", Category = "c" })],
            K = 5,
            BudgetMs = RankRequest.MaxBudgetMs,
        }, MeshJson.Options);
        rank.EnsureSuccessStatusCode();
        await mesh.SettleAsync();

        using var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();

        response.EnsureSuccessStatusCode();
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        string[] histograms =
        [
            "http_server_request_duration_seconds", "mesh_router_embedding_duration_seconds", "mesh_router_ranker_call_duration_seconds",
            "mesh_router_rank_duration_seconds", "mesh_router_impressions_publish_duration_seconds", "mesh_ranker_stage_duration_seconds",
            "mesh_ranker_engine_run_duration_seconds", "mesh_ranker_early_exit_depth", "mesh_ranker_batch_candidates", "mesh_publish_duration_seconds",
        ];
        foreach (var histogram in histograms)
        {
            Assert.Contains($"# TYPE {histogram} histogram", text, StringComparison.Ordinal);
            Assert.Contains($"{histogram}_bucket{{", text, StringComparison.Ordinal);
        }

        string[] series =
        [
            "mesh_router_embedding_lookups_total{", "mesh_router_tier_choices_total{", "mesh_events_delivered_total{", "mesh_events_dead_lettered_total{",
            "mesh_trainer_examples_trained_total", "mesh_trainer_model_version", "mesh_precompute_representations_total{", "mesh_precompute_live",
            "mesh_user_model_model_version", "mesh_ranker_model_version", "dotnet_gc_collections_total", "dotnet_thread_pool_thread_count",
        ];
        foreach (var name in series)
        {
            Assert.Contains(name, text, StringComparison.Ordinal);
        }
    }
}
