using Mesh.Contracts;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Routing;

/// <summary>
/// Adaptive Ranking's request routing, our documented policy (docs/routing.md): a request gets the full cascade
/// (small tier on every candidate, large tier on the best <see cref="RouterOptions.FinalStageSize"/>) when the
/// cascade's predicted latency fits the budget left after the embedding read and the router is not overloaded;
/// otherwise the small tier alone. Predicted latency is learned online: an exponentially weighted mean of observed
/// milliseconds per candidate, per plan. Since the cascade's mean learns only from cascades that ran, one in
/// <see cref="RouterOptions.ProbeEvery"/> requests refused it for budget takes it anyway (a probe), so a mean raised by
/// slow start-up calls comes back down.
/// </summary>
public sealed class TierPolicy(IOptions<RouterOptions> options)
{
    // Weight of the newest observation in the running means.
    private const double Smoothing = 0.05;

    private readonly Lock _lock = new();

    // Priors, in ms per candidate, until observations arrive; deliberately low so the large tier gets tried.
    private double _smallMsPerCandidate = 0.002;
    private double _cascadeMsPerCandidate = 0.004;
    private int _inFlight;
    private long _budgetRefusals;

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// The cascade for a request of <paramref name="candidates"/> candidates returning <paramref name="k"/>, with
    /// <paramref name="remainingMs"/> of its budget left; the final stage exits early at <paramref name="exitThreshold"/>
    /// (null: never).
    /// </summary>
    public RoutingDecision Choose(int candidates, int k, double remainingMs, double? exitThreshold = null)
    {
        var o = options.Value;
        var keep = Math.Min(k, candidates);
        double cascadeMs, smallMs;
        lock (_lock)
        {
            cascadeMs = _cascadeMsPerCandidate * candidates;
            smallMs = _smallMsPerCandidate * candidates;
        }

        string reason;
        if (InFlight >= o.MaxInFlightForLarge)
        {
            reason = "load";
        }
        else if (cascadeMs > remainingMs && Interlocked.Increment(ref _budgetRefusals) % o.ProbeEvery != 0)
        {
            reason = "budget";
        }
        else
        {
            var early = Math.Max(keep, Math.Min(candidates, o.FinalStageSize));
            return new RoutingDecision(Tiers.Large, cascadeMs > remainingMs ? "probe" : "fits", cascadeMs,
            [
                new CascadeStage { Tier = Tiers.Small, Keep = early },
                new CascadeStage { Tier = Tiers.Large, Keep = keep, ExitThreshold = exitThreshold },
            ]);
        }

        return new RoutingDecision(Tiers.Small, reason, smallMs, [new CascadeStage { Tier = Tiers.Small, Keep = keep, ExitThreshold = exitThreshold }]);
    }

    /// <summary>Marks a ranker call in flight; dispose the result when it returns.</summary>
    public InFlightScope Enter() => new(this);

    /// <summary>Feeds back how long a plan took for <paramref name="candidates"/> candidates.</summary>
    public void Observe(RoutingDecision decision, int candidates, double elapsedMs)
    {
        var perCandidate = elapsedMs / Math.Max(1, candidates);
        lock (_lock)
        {
            if (decision.Tier == Tiers.Large)
            {
                _cascadeMsPerCandidate += Smoothing * (perCandidate - _cascadeMsPerCandidate);
            }
            else
            {
                _smallMsPerCandidate += Smoothing * (perCandidate - _smallMsPerCandidate);
            }
        }
    }

    public readonly struct InFlightScope : IDisposable
    {
        private readonly TierPolicy _policy;

        internal InFlightScope(TierPolicy policy)
        {
            _policy = policy;
            Interlocked.Increment(ref policy._inFlight);
        }

        public void Dispose() => Interlocked.Decrement(ref _policy._inFlight);
    }
}

/// <summary>The cascade chosen for one request, and why.</summary>
public sealed record RoutingDecision(string Tier, string Reason, double PredictedMs, IReadOnlyList<CascadeStage> Cascade);
