using System.Threading.Channels;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Serving;
using Microsoft.Extensions.Options;

namespace Mesh.Ranker.Scoring;

/// <summary>
/// Batches concurrent score calls per tier and runs them on one worker per execution target (<c>Ranker:Devices</c>):
/// a worker takes what has queued, up to <see cref="RankerOptions.MaxBatchCandidates"/>, waits up to
/// <see cref="RankerOptions.BatchWindow"/> for more when there is room, and scores each tier's share in one run of its
/// graph, the user side once per request. A call scores on the version its caller holds a lease on, so a request's
/// stages see one version even across a reload.
/// </summary>
public sealed class ScoreBatcher(ServingModel serving, IOptions<RankerOptions> options, RankerMetrics metrics, TimeProvider clock, ILogger<ScoreBatcher> logger)
    : BackgroundService
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly Lock _take = new();

    /// <summary>Queues one request's stage; completes with its scores (or the batch's failure).</summary>
    public Task<TierScores> ScoreAsync(ModelLease lease, string tier, RankingInput request, EarlyExitRule? exit, CancellationToken cancellationToken)
    {
        var pending = new Pending(lease, tier, request, exit);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("the ranker is stopping");
        }

        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Worker w serves replica (target) r for each of that target's workers.
        var replicas = serving.Targets.SelectMany((t, replica) => Enumerable.Repeat(replica, options.Value.WorkersFor(t.Running.IsCuda)));
        return Task.WhenAll(replicas.Select(replica => Task.Factory.StartNew(
            () => WorkAsync(replica, stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        while (_queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetCanceled(cancellationToken);
        }
    }

    /// <summary>
    /// Scores a batch's calls: per (version, tier), one <see cref="RankingBatch"/> and one run on the worker's replica of
    /// that version. A failure fails that group's calls only.
    /// </summary>
    internal static void Run(IReadOnlyList<Pending> batch, int replica, RankerMetrics? metrics = null)
    {
        foreach (var group in batch.GroupBy(p => (p.Lease.Replica(replica), p.Tier)))
        {
            var calls = group.ToList();
            try
            {
                var (model, tier) = group.Key;
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var scored = model.Score(tier, model.Encode([.. calls.Select(c => c.Request)]), [.. calls.Select(c => c.Exit)]);
                metrics?.RecordRun(tier, System.Diagnostics.Stopwatch.GetElapsedTime(started));
                metrics?.CountBatch(calls.Count, scored.Sum(s => s.Scores.Length));
                for (var i = 0; i < calls.Count; i++)
                {
                    calls[i].Done.TrySetResult(scored[i]);
                }
            }
            catch (Exception e)
            {
                calls.ForEach(c => c.Done.TrySetException(e));
            }
        }
    }

    private async Task WorkAsync(int replica, CancellationToken stoppingToken)
    {
        var batch = new List<Pending>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                var candidates = Take(batch, 0);
                var window = options.Value.BatchWindow;
                if (window > TimeSpan.Zero && candidates < options.Value.MaxBatchCandidates)
                {
                    await Task.Delay(window, clock, stoppingToken);
                    Take(batch, candidates);
                }

                if (batch.Count > 0)
                {
                    Run(batch, replica, metrics);
                    batch.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            batch.ForEach(p => p.Done.TrySetCanceled(stoppingToken));
        }
        catch (Exception e)
        {
            logger.LogCritical(e, "Score worker {Replica} stopped", replica);
            batch.ForEach(p => p.Done.TrySetException(e));
            throw;
        }
    }

    // Moves queued calls into the batch while they fit (one at least); returns the batch's candidates.
    private int Take(List<Pending> batch, int candidates)
    {
        var max = options.Value.MaxBatchCandidates;
        using var scope = _take.EnterScope(); // workers take in turn, so a peeked call is the one read
        while ((batch.Count == 0 || candidates < max) && _queue.Reader.TryPeek(out var next)
            && (batch.Count == 0 || candidates + next.Request.Ads.Count <= max) && _queue.Reader.TryRead(out next))
        {
            batch.Add(next);
            candidates += next.Request.Ads.Count;
        }

        return candidates;
    }

    /// <summary>One queued call.</summary>
    internal sealed record Pending(ModelLease Lease, string Tier, RankingInput Request, EarlyExitRule? Exit)
    {
        public TaskCompletionSource<TierScores> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
