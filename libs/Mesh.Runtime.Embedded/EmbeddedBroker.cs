using System.Collections.Concurrent;
using System.Threading.Channels;
using Mesh.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// In-process pub/sub with Dapr's delivery semantics: every subscribing app gets each event at least once, in
/// publish order; RETRY or a handler exception redelivers after a backoff, up to <see cref="EmbeddedRuntimeOptions.MaxAttempts"/>;
/// DROP, poison data and exhausted retries go to the dead-letter topic. Queues are bounded: a publisher waits when a
/// subscriber's queue is full. Shutdown drains the queues first.
/// </summary>
public sealed class EmbeddedBroker : IEventPublisher, IHostedService, IAsyncDisposable
{
    private const int RecentDeadLetterCapacity = 256;

    private readonly Dictionary<string, Subscription[]> _byTopic;
    private readonly EventDelivery _delivery;
    private readonly DeliveryMetrics _metrics;
    private readonly EmbeddedRuntimeOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<EmbeddedBroker> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<DeadLetter> _recentDeadLetters = new();
    private readonly IdleTracker _work = new();
    private Task[] _workers = [];

    public EmbeddedBroker(
        IEnumerable<SubscriptionDescriptor> subscriptions,
        EventDelivery delivery,
        DeliveryMetrics metrics,
        IOptions<EmbeddedRuntimeOptions> options,
        TimeProvider clock,
        ILogger<EmbeddedBroker> logger)
    {
        _delivery = delivery;
        _metrics = metrics;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        _byTopic = subscriptions
            .Select(d => new Subscription(d, metrics.For(d.AppId, d.Topic), Channel.CreateBounded<Envelope>(new BoundedChannelOptions(_options.QueueCapacity)
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleReader = true,
            })))
            .GroupBy(s => s.Descriptor.Topic, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>The most recent dead letters (at most 256), newest last.</summary>
    public IReadOnlyList<DeadLetter> RecentDeadLetters => [.. _recentDeadLetters];

    public Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default) =>
        PublishRawAsync(topic, MeshJson.Serialize(data), cancellationToken: cancellationToken);

    /// <summary>Publishes already-serialized data, as a sidecar would receive it; <paramref name="eventId"/> defaults to a new id.</summary>
    public async Task PublishRawAsync(string topic, byte[] data, string? eventId = null, CancellationToken cancellationToken = default)
    {
        _metrics.CountPublished();
        if (!_byTopic.TryGetValue(topic, out var subscriptions))
        {
            return;
        }

        var envelope = new Envelope(eventId ?? Guid.NewGuid().ToString(), topic, _clock.GetUtcNow(), data);
        foreach (var s in subscriptions)
        {
            await EnqueueAsync(s, envelope, cancellationToken);
        }
    }

    /// <summary>Completes when no event is queued or being delivered, downstream publishes included.</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken = default) => _work.WhenIdleAsync(cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _workers = [.. _byTopic.Values.SelectMany(s => s).Select(s => Task.Run(() => RunAsync(s)))];
        await RestoreUndeliveredAsync(cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var drained = WaitForIdleAsync(cancellationToken);
        var timeout = Task.Delay(_options.DrainTimeout, _clock, cancellationToken);
        if (await Task.WhenAny(drained, timeout) != drained)
        {
            _logger.LogWarning("Embedded broker: {Outstanding} events still undelivered after {DrainTimeout}", _work.Outstanding, _options.DrainTimeout);
        }

        // The host may dispose the broker before stopping it (seen when a test host is disposed under load); a disposed
        // source was cancelled first, so there is nothing left to cancel.
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync();
        }

        await Task.WhenAll(_workers).WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        await SaveUndeliveredAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync();
        }

        _stopping.Dispose();
    }

    private async Task EnqueueAsync(Subscription s, Envelope envelope, CancellationToken cancellationToken)
    {
        _work.Begin();
        try
        {
            await s.Queue.Writer.WriteAsync(envelope, cancellationToken);
        }
        catch
        {
            _work.End();
            throw;
        }
    }

    private async Task RunAsync(Subscription s)
    {
        var stopping = _stopping.Token;
        try
        {
            await foreach (var envelope in s.Queue.Reader.ReadAllAsync(stopping))
            {
                try
                {
                    await DeliverWithRetriesAsync(s, envelope, stopping);
                }
                finally
                {
                    _work.End();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task DeliverWithRetriesAsync(Subscription s, Envelope envelope, CancellationToken stopping)
    {
        var context = new EventContext(envelope.Id, envelope.Topic, "mesh", envelope.Time);
        for (var attempt = 1; ; attempt++)
        {
            var result = await _delivery.DeliverAsync(s.Descriptor, envelope.Data, context, stopping);
            switch (result.Outcome)
            {
                case DeliveryOutcome.Success:
                    return;
                case DeliveryOutcome.Drop:
                    await DeadLetterAsync(s, envelope, result.IsPoison ? "poison" : "dropped", result.IsPoison, stopping);
                    return;
            }

            s.Counters.CountRetried();
            if (attempt >= _options.MaxAttempts)
            {
                await DeadLetterAsync(s, envelope, $"retries exhausted after {attempt} attempts", poison: false, stopping);
                return;
            }

            await Task.Delay(Backoff(_options, attempt), _clock, stopping);
        }
    }

    /// <summary>Wait after failed attempt <paramref name="attempt"/> (1-based): the initial backoff doubled per attempt, capped.</summary>
    public static TimeSpan Backoff(EmbeddedRuntimeOptions options, int attempt) =>
        TimeSpan.FromTicks((long)Math.Min(options.InitialBackoff.Ticks * Math.Pow(2, attempt - 1), options.MaxBackoff.Ticks));

    private async Task DeadLetterAsync(Subscription s, Envelope envelope, string reason, bool poison, CancellationToken cancellationToken)
    {
        s.Counters.CountDeadLettered(poison);
        _recentDeadLetters.Enqueue(new DeadLetter(envelope.Id, envelope.Topic, s.Descriptor.AppId, reason, _clock.GetUtcNow(), envelope.Data));
        while (_recentDeadLetters.Count > RecentDeadLetterCapacity)
        {
            _recentDeadLetters.TryDequeue(out _);
        }

        _logger.LogWarning("Dead-lettered event {EventId} of {Topic} for {AppId}: {Reason}", envelope.Id, envelope.Topic, s.Descriptor.AppId, reason);

        // Like daprd, the original bytes go to the dead-letter topic; a dead letter is never dead-lettered again.
        if (envelope.Topic != s.Descriptor.DeadLetterTopic && _byTopic.TryGetValue(s.Descriptor.DeadLetterTopic, out var deadLetterSubscribers))
        {
            foreach (var d in deadLetterSubscribers)
            {
                await EnqueueAsync(d, envelope with { Topic = s.Descriptor.DeadLetterTopic }, cancellationToken);
            }
        }
    }

    private string? UndeliveredPath => _options.DataDirectory is { } dir ? Path.Combine(dir, "undelivered-events.json") : null;

    private async Task SaveUndeliveredAsync(CancellationToken cancellationToken)
    {
        var pending = new List<PendingEvent>();
        foreach (var s in _byTopic.Values.SelectMany(x => x))
        {
            while (s.Queue.Reader.TryRead(out var e))
            {
                pending.Add(new PendingEvent(s.Descriptor.AppId, e.Topic, e.Id, e.Time, e.Data));
            }
        }

        if (UndeliveredPath is { } path && pending.Count > 0)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, MeshJson.Serialize(pending), cancellationToken);
            _logger.LogInformation("Saved {Count} undelivered events to {Path}", pending.Count, path);
        }
    }

    private async Task RestoreUndeliveredAsync(CancellationToken cancellationToken)
    {
        if (UndeliveredPath is not { } path || !File.Exists(path))
        {
            return;
        }

        var pending = MeshJson.Deserialize<List<PendingEvent>>(await File.ReadAllBytesAsync(path, cancellationToken));
        File.Delete(path);
        foreach (var p in pending)
        {
            var s = _byTopic.GetValueOrDefault(p.Topic)?.FirstOrDefault(x => x.Descriptor.AppId == p.AppId);
            if (s is not null)
            {
                await EnqueueAsync(s, new Envelope(p.EventId, p.Topic, p.Time, p.Data), cancellationToken);
            }
        }

        _logger.LogInformation("Restored {Count} undelivered events from {Path}", pending.Count, path);
    }

    private sealed record Subscription(SubscriptionDescriptor Descriptor, SubscriptionCounters Counters, Channel<Envelope> Queue);

    private sealed record Envelope(string Id, string Topic, DateTimeOffset Time, byte[] Data);

    private sealed record PendingEvent(string AppId, string Topic, string EventId, DateTimeOffset Time, byte[] Data);
}

/// <summary>An event that was dead-lettered, kept for inspection.</summary>
public sealed record DeadLetter(string EventId, string Topic, string AppId, string Reason, DateTimeOffset At, byte[] Data);
