using Mesh.Contracts;
using Mesh.Router.Routing;

namespace Mesh.Router.Tests;

public sealed class TierPolicyTests
{
    private static TierPolicy Create(int finalStage = 50, int maxInFlight = 4, int probeEvery = 100) =>
        new(Microsoft.Extensions.Options.Options.Create(new RouterOptions { FinalStageSize = finalStage, MaxInFlightForLarge = maxInFlight, ProbeEvery = probeEvery }));

    [Fact]
    public void Choose_AmpleBudget_CascadeSmallThenLarge()
    {
        var decision = Create().Choose(candidates: 500, k: 10, remainingMs: 100);

        Assert.Equal(Tiers.Large, decision.Tier);
        Assert.Equal([(Tiers.Small, 50), (Tiers.Large, 10)], decision.Cascade.Select(s => (s.Tier, s.Keep)));
    }

    [Fact]
    public void Choose_ExitThreshold_OnTheFinalStageOfEitherPlan()
    {
        var policy = Create(maxInFlight: 1);

        var cascade = policy.Choose(candidates: 500, k: 10, remainingMs: 100, exitThreshold: 0.3);
        using var busy = policy.Enter();
        var shed = policy.Choose(candidates: 500, k: 10, remainingMs: 100, exitThreshold: 0.3);

        Assert.Equal([null, 0.3], cascade.Cascade.Select(s => s.ExitThreshold));
        Assert.Equal(0.3, Assert.Single(shed.Cascade).ExitThreshold);
    }

    [Fact]
    public void Choose_FewCandidates_EarlyStageKeepsAll()
    {
        var decision = Create().Choose(candidates: 8, k: 20, remainingMs: 100);

        Assert.Equal([(Tiers.Small, 8), (Tiers.Large, 8)], decision.Cascade.Select(s => (s.Tier, s.Keep)));
    }

    [Fact]
    public void Choose_BudgetBelowPrediction_SmallOnly()
    {
        var policy = Create();
        var ample = policy.Choose(500, 10, 100);
        policy.Observe(ample, 500, elapsedMs: 500 * 0.004); // no change from the prior
        var decision = policy.Choose(candidates: 500, k: 10, remainingMs: 1);

        Assert.Equal(Tiers.Small, decision.Tier);
        Assert.Equal("budget", decision.Reason);
        Assert.Equal([(Tiers.Small, 10)], decision.Cascade.Select(s => (s.Tier, s.Keep)));
    }

    [Fact]
    public void Observe_SlowCascade_PredictionGrowsUntilBudgetExcluded()
    {
        var policy = Create();
        var decision = policy.Choose(100, 10, remainingMs: 20);
        Assert.Equal(Tiers.Large, decision.Tier);

        for (var i = 0; i < 200; i++)
        {
            policy.Observe(decision, 100, elapsedMs: 50);
        }

        var later = policy.Choose(100, 10, remainingMs: 20);
        Assert.Equal(Tiers.Small, later.Tier);
        Assert.InRange(later.PredictedMs, 0, 20);
    }

    [Fact]
    public void Choose_SlowStartUp_ProbesTheCascadeUntilItFitsAgain()
    {
        var policy = Create(probeEvery: 10);
        var first = policy.Choose(100, 10, remainingMs: 20);
        policy.Observe(first, 100, elapsedMs: 3000); // a cold start: models loading, code not yet compiled

        // Refused for budget, but one request in 10 probes the cascade; fast probes bring the prediction back under budget.
        var decisions = new List<RoutingDecision>();
        for (var i = 0; i < 1000 && decisions.LastOrDefault()?.Reason != "fits"; i++)
        {
            var decision = policy.Choose(100, 10, remainingMs: 20);
            decisions.Add(decision);
            if (decision.Tier == Tiers.Large)
            {
                policy.Observe(decision, 100, elapsedMs: 2);
            }
        }

        Assert.Equal("fits", decisions[^1].Reason);
        var probes = decisions.Where(d => d.Reason == "probe").ToList();
        Assert.NotEmpty(probes);
        Assert.All(probes, p => Assert.Equal(Tiers.Large, p.Tier));
        Assert.Equal(decisions.Count(d => d.Reason == "budget"), 9 * probes.Count); // every 10th refusal probes
    }

    [Fact]
    public void Choose_Overloaded_ShedsToSmall()
    {
        var policy = Create(maxInFlight: 2);
        using var a = policy.Enter();
        using var b = policy.Enter();

        var decision = policy.Choose(100, 10, remainingMs: 1000);

        Assert.Equal((Tiers.Small, "load"), (decision.Tier, decision.Reason));
    }

    [Fact]
    public void Enter_Disposed_InFlightReturnsToZero()
    {
        var policy = Create();
        using (policy.Enter())
        {
            Assert.Equal(1, policy.InFlight);
        }

        Assert.Equal(0, policy.InFlight);
    }
}
