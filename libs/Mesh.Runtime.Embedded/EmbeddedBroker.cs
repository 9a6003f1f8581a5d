using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Mesh.Contracts;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// In-process pub/sub with Dapr's delivery semantics: every subscribing app gets each event at least once, in
/// publish order; RETRY or a handler exception redelivers after a backoff, up to <see cref="EmbeddedRuntimeOptions.MaxAttempts"/>;
/// DROP, poison data and exhausted retries go to the dead-letter topic. Queues are bounded: a publisher waits when a
/// subscriber's queue is full. Shutdown drains the queues first. With a database
/// (<see cref="EmbeddedRuntimeOptions.DataDirectory"/>) a published event is written to its outbox, one row per
/// subscribing app, and committed before <see cref="PublishAsync{T}"/> returns; a row goes when its app has the event
/// (delivered or dead-lettered), and every row left at start, after a clean stop or a crash, is delivered again.
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
    private readonly EmbeddedDatabase _database;
    private IReadOnlyList<StoredEvent> _stored;
    private long _lastRowId;
    private Task[] _workers = [];

    /// <summary>A broker in memory only.</summary>
    public EmbeddedBroker(
        IEnumerable<SubscriptionDescriptor> subscriptions,
        EventDelivery delivery,
        DeliveryMetrics metrics,
        IOptions<EmbeddedRuntimeOptions> options,
        TimeProvider clock,
        ILogger<EmbeddedBroker> logger)
        : this(subscriptions, delivery, metrics, options, clock, logger, EmbeddedDatabase.MemoryOnly())
    {
    }

    internal EmbeddedBroker(
        IEnumerable<SubscriptionDescriptor> subscriptions,
        EventDelivery delivery,
        DeliveryMetrics metrics,
        IOptions<EmbeddedRuntimeOptions> options,
        TimeProvider clock,
        ILogger<EmbeddedBroker> logger,
        EmbeddedDatabase database)
    {
        _database = database;
        _stored = database.TakeEvents();
        _lastRowId = _stored.Count == 0 ? 0 : _stored[^1].Id;
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
    /// <remarks>The event carries the publish span's <c>traceparent</c>, as daprd copies it into the CloudEvent.</remarks>
    public async Task PublishRawAsync(string topic, byte[] data, string? eventId = null, CancellationToken cancellationToken = default)
    {
        var started = _clock.GetTimestamp();
        using var activity = MeshTelemetry.Source(MeshTelemetry.RuntimeName).StartActivity($"{topic} publish", ActivityKind.Producer);
        activity?.SetTag("messaging.operation.type", "send");
        activity?.SetTag("messaging.destination.name", topic);
        _metrics.CountPublished();
        if (_byTopic.TryGetValue(topic, out var subscriptions))
        {
            var traceParent = MeshTelemetry.TraceParent(activity ?? Activity.Current);
            await EnqueueAsync(subscriptions, new Envelope(eventId ?? Guid.NewGuid().ToString(), topic, _clock.GetUtcNow(), data, TraceParent: traceParent), cancellationToken);
        }

        _metrics.RecordPublish(topic, _clock.GetElapsedTime(started));
    }

    /// <summary>Completes when no event is queued or being delivered, downstream publishes included.</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken = default) => _work.WhenIdleAsync(cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _workers = [.. _byTopic.Values.SelectMany(s => s).Select(s => Task.Run(() => RunAsync(s)))];
        await RedeliverAsync(cancellationToken);
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
        if (_database.IsPersistent && _work.Outstanding > 0)
        {
            _logger.LogInformation("{Count} undelivered events stay in {Path} for the next start", _work.Outstanding, _database.FilePath);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync();
        }

        _stopping.Dispose();
    }

    /// <summary>
    /// Hands <paramref name="envelope"/> to each of <paramref name="subscriptions"/>: first into the outbox, committed,
    /// then into their queues (where a full queue makes the publisher wait).
    /// </summary>
    private async Task EnqueueAsync(Subscription[] subscriptions, Envelope envelope, CancellationToken cancellationToken)
    {
        var rows = new long[subscriptions.Length];
        if (_database.IsPersistent)
        {
            var writes = new EmbeddedDatabase.Write[subscriptions.Length];
            for (var i = 0; i < subscriptions.Length; i++)
            {
                rows[i] = Interlocked.Increment(ref _lastRowId);
                writes[i] = new EmbeddedDatabase.AddEvent(new StoredEvent(rows[i], subscriptions[i].Descriptor.AppId, envelope.Topic, envelope.Id, envelope.Time, envelope.Data));
            }

            await _database.WriteAsync(writes);
        }

        for (var i = 0; i < subscriptions.Length; i++)
        {
            await EnqueueAsync(subscriptions[i], envelope with { Row = rows[i] }, cancellationToken);
        }
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
                    // ReadAllAsync checks the token only when the queue runs empty: past the drain timeout, leave the
                    // rest queued (and, with a database, in the outbox for the next start).
                    stopping.ThrowIfCancellationRequested();
                    await DeliverWithRetriesAsync(s, envelope, stopping);

                    // Not awaited: if a crash loses the removal, the event is delivered once more, which at-least-once allows.
                    if (envelope.Row != 0)
                    {
                        _database.Post(new EmbeddedDatabase.RemoveEvent(envelope.Row));
                    }
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
        var context = new EventContext(envelope.Id, envelope.Topic, "mesh", envelope.Time, envelope.TraceParent);
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
            await EnqueueAsync(deadLetterSubscribers, envelope with { Topic = s.Descriptor.DeadLetterTopic }, cancellationToken);
        }
    }

    /// <summary>Queues every event the outbox held at start (left by a stop before delivery, or a crash), in publish order.</summary>
    private async Task RedeliverAsync(CancellationToken cancellationToken)
    {
        var stored = _stored;
        _stored = [];
        if (stored.Count == 0)
        {
            return;
        }

        var orphans = 0;
        foreach (var e in stored)
        {
            var s = _byTopic.GetValueOrDefault(e.Topic)?.FirstOrDefault(x => x.Descriptor.AppId == e.AppId);
            if (s is null)
            {
                // Kept: the subscription may come back in a later build.
                orphans++;
                continue;
            }

            await EnqueueAsync(s, new Envelope(e.EventId, e.Topic, e.Time, e.Data, e.Id), cancellationToken);
        }

        _logger.LogInformation("Redelivering {Count} events left undelivered in {Path}", stored.Count - orphans, _database.FilePath);
        if (orphans > 0)
        {
            _logger.LogWarning("{Count} undelivered events in {Path} are for subscriptions this host does not have; they stay there", orphans, _database.FilePath);
        }
    }

    private sealed record Subscription(SubscriptionDescriptor Descriptor, SubscriptionCounters Counters, Channel<Envelope> Queue);

    // Row: the event's outbox row for this subscription; 0 in memory-only mode. TraceParent: the publisher's span; not
    // kept in the outbox, so an event redelivered after a restart starts a trace of its own.
    private sealed record Envelope(string Id, string Topic, DateTimeOffset Time, byte[] Data, long Row = 0, string? TraceParent = null);
}

/// <summary>An event that was dead-lettered, kept for inspection.</summary>
public sealed record DeadLetter(string EventId, string Topic, string AppId, string Reason, DateTimeOffset At, byte[] Data);
