using System.Diagnostics;
using System.Threading.Channels;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Impressions;

/// <summary>
/// Impressions wait here to be published, so a reply never waits for the pub/sub. Bounded: if publishing falls
/// that far behind, requests wait for room rather than drop what was served. Each entry keeps the <c>traceparent</c> of
/// the request that served it, so its publish joins that request's trace.
/// </summary>
public sealed class ImpressionQueue(IOptions<RouterOptions> options)
{
    private readonly Channel<Queued> _channel = Channel.CreateBounded<Queued>(
        new BoundedChannelOptions(options.Value.ImpressionQueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    private readonly IdleTracker _unpublished = new();

    public async ValueTask EnqueueAsync(ImpressionsServed impressions, CancellationToken cancellationToken)
    {
        _unpublished.Begin();
        try
        {
            var queued = new Queued(impressions, MeshTelemetry.TraceParent(Activity.Current));
            if (!_channel.Writer.TryWrite(queued))
            {
                await _channel.Writer.WriteAsync(queued, cancellationToken);
            }
        }
        catch
        {
            _unpublished.End();
            throw;
        }
    }

    /// <summary>Completes once every impression enqueued so far has been published.</summary>
    public Task WhenPublishedAsync(CancellationToken cancellationToken = default) => _unpublished.WhenIdleAsync(cancellationToken);

    internal void MarkPublished() => _unpublished.End();

    internal ChannelReader<Queued> Reader => _channel.Reader;

    internal sealed record Queued(ImpressionsServed Impressions, string? TraceParent);
}

/// <summary>
/// Publishes queued impressions to <c>impressions</c>. A failed publish is retried with backoff until it goes
/// through; at shutdown the queue is drained before the host stops.
/// </summary>
public sealed class ImpressionPublisher(ImpressionQueue queue, IEventPublisher publisher, RouterMetrics metrics, TimeProvider clock, ILogger<ImpressionPublisher> logger)
    : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var queued in queue.Reader.ReadAllAsync(stoppingToken))
            {
                await PublishAsync(queued, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        while (queue.Reader.TryRead(out var queued))
        {
            await PublishAsync(queued, cancellationToken);
        }
    }

    private async Task PublishAsync(ImpressionQueue.Queued queued, CancellationToken cancellationToken)
    {
        var impressions = queued.Impressions;
        var started = clock.GetTimestamp();
        using var activity = RouterMetrics.Source.StartActivity("publish impressions", ActivityKind.Internal, MeshTelemetry.ParentOf(queued.TraceParent));
        activity?.SetTag("mesh.request_id", impressions.RequestId);
        var backoff = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                await publisher.PublishAsync(Topics.Impressions, impressions, cancellationToken);
                metrics.RecordPublish(clock.GetElapsedTime(started));
                queue.MarkPublished();
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                metrics.CountPublishRetry();
                logger.LogWarning(e, "Publishing impressions of {RequestId} failed; retrying in {Backoff}", impressions.RequestId, backoff);
                await Task.Delay(backoff, clock, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }
}
