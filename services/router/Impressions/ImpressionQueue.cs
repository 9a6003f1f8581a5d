using System.Threading.Channels;
using Mesh.Contracts;
using Mesh.Runtime;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Impressions;

/// <summary>
/// Impressions wait here to be published, so a reply never waits for the pub/sub. Bounded: if publishing falls
/// that far behind, requests wait for room rather than drop what was served.
/// </summary>
public sealed class ImpressionQueue(IOptions<RouterOptions> options)
{
    private readonly Channel<ImpressionsServed> _channel = Channel.CreateBounded<ImpressionsServed>(
        new BoundedChannelOptions(options.Value.ImpressionQueueCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });

    private readonly IdleTracker _unpublished = new();

    public async ValueTask EnqueueAsync(ImpressionsServed impressions, CancellationToken cancellationToken)
    {
        _unpublished.Begin();
        try
        {
            if (!_channel.Writer.TryWrite(impressions))
            {
                await _channel.Writer.WriteAsync(impressions, cancellationToken);
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

    internal ChannelReader<ImpressionsServed> Reader => _channel.Reader;
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
            await foreach (var impressions in queue.Reader.ReadAllAsync(stoppingToken))
            {
                await PublishAsync(impressions, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        while (queue.Reader.TryRead(out var impressions))
        {
            await PublishAsync(impressions, cancellationToken);
        }
    }

    private async Task PublishAsync(ImpressionsServed impressions, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                await publisher.PublishAsync(Topics.Impressions, impressions, cancellationToken);
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
