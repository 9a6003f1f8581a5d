using System.Text.Json;
using Mesh.Precompute.Speculation;
using Mesh.Testing;

namespace Mesh.Precompute.Tests.Speculation;

/// <summary>The ledger's accounting on a fake clock's instants: one computation is one foundation-model call written.</summary>
public sealed class PrecomputeLedgerTests
{
    private static readonly DateTimeOffset T0 = TestClock.Start;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(2);

    private static JsonElement Stats(PrecomputeLedger ledger)
    {
        var stats = new Dictionary<string, object?>();
        ledger.Contribute(stats);
        return JsonSerializer.SerializeToElement(stats["precompute"]);
    }

    private static void Compute(PrecomputeLedger ledger, string key, DateTimeOffset embeddingTime, DateTimeOffset at)
    {
        var claimed = ledger.Claim([key], embeddingTime, at - TimeSpan.FromSeconds(30));
        Assert.Equal([key], claimed);
        ledger.Complete(claimed, embeddingTime, at, at + Ttl);
    }

    [Fact]
    public void Sweep_RecomputedBeforeAnyRead_BothComputationsSettleAsWaste()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        Compute(ledger, "u1:a1", T0.AddSeconds(1), T0.AddSeconds(1)); // a newer embedding: recomputed, the first superseded

        ledger.Sweep(T0.AddMinutes(3));

        var s = Stats(ledger);
        Assert.Equal(2, s.GetProperty("computed").GetInt64());
        Assert.Equal(1, s.GetProperty("superseded").GetInt64());
        Assert.Equal(2, s.GetProperty("expiredUnused").GetInt64());
        Assert.Equal(1, s.GetProperty("supersededUnused").GetInt64());
        Assert.Equal(1.0, s.GetProperty("wasteRate").GetDouble());
    }

    [Fact]
    public void RecordRead_NamesTheComputation_OnlyThatOneIsUsedNotItsRecomputation()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        Compute(ledger, "u1:a1", T0.AddSeconds(1), T0.AddSeconds(1));

        // The ranker read the first computation before the second was written; the impression arrives afterwards.
        ledger.RecordRead("u1:a1", T0, T0.AddSeconds(2));
        ledger.Sweep(T0.AddMinutes(3));

        var s = Stats(ledger);
        Assert.Equal(1, s.GetProperty("used").GetInt64());
        Assert.Equal(1, s.GetProperty("expiredUsed").GetInt64());
        Assert.Equal(1, s.GetProperty("expiredUnused").GetInt64());
        Assert.Equal(0.5, s.GetProperty("wasteRate").GetDouble());
    }

    [Fact]
    public void Contribute_BeforeAnyExpiry_ReportsOutstandingAndTheWasteBound()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        Compute(ledger, "u1:a2", T0, T0);
        Compute(ledger, "u1:a3", T0, T0);
        ledger.RecordRead("u1:a1", T0, T0.AddSeconds(5));
        ledger.RecordRead("u1:a1", T0, T0.AddSeconds(9)); // read by two requests: one used computation, two reads
        ledger.Sweep(T0.AddMinutes(1)); // nothing has expired

        var s = Stats(ledger);
        Assert.Equal(3, s.GetProperty("outstanding").GetInt64());
        Assert.Equal(2, s.GetProperty("outstandingUnread").GetInt64());
        Assert.Equal(0, s.GetProperty("settled").GetInt64());
        Assert.Equal(0, s.GetProperty("wasteRate").GetDouble());
        Assert.Equal(2.0 / 3, s.GetProperty("wasteRateIfOutstandingUnread").GetDouble(), 12);
        Assert.Equal((2L, 1L), (s.GetProperty("reads").GetInt64(), s.GetProperty("used").GetInt64()));
    }

    [Fact]
    public void SettleAll_AtShutdown_LiveUnreadCountedAsWasteAndNothingOutstanding()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        Compute(ledger, "u1:a2", T0, T0);
        Compute(ledger, "u1:a3", T0, T0);
        ledger.RecordRead("u1:a1", T0, T0.AddSeconds(5));

        Assert.Equal((1L, 2L), ledger.SettleAll());

        var s = Stats(ledger);
        Assert.Equal((1L, 2L), (s.GetProperty("shutdownUsed").GetInt64(), s.GetProperty("shutdownUnused").GetInt64()));
        Assert.Equal((0L, 0L), (s.GetProperty("outstanding").GetInt64(), s.GetProperty("live").GetInt64()));
        Assert.Equal(2.0 / 3, s.GetProperty("wasteRate").GetDouble(), 12);
        Assert.Equal((0L, 0L), ledger.SettleAll()); // settled once
    }

    [Fact]
    public void RecordRead_AgeAtUse_IsReadTimeMinusComputedTime()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        Compute(ledger, "u1:a2", T0, T0.AddSeconds(2));

        ledger.RecordRead("u1:a1", T0, T0.AddSeconds(6));
        ledger.RecordRead("u1:a2", T0.AddSeconds(2), T0.AddSeconds(6));
        ledger.RecordRead("u1:a9", T0, T0.AddSeconds(6)); // never computed here (another precompute, a restart)

        var s = Stats(ledger);
        Assert.Equal(5000.0, s.GetProperty("ageAtUseMs").GetProperty("mean").GetDouble());
        Assert.Equal(6000.0, s.GetProperty("ageAtUseMs").GetProperty("p99").GetDouble());
        Assert.Equal(1, s.GetProperty("readsUnmatched").GetInt64());
    }

    [Fact]
    public void RecordRequest_CoverageAndFoundationCallsPerRequest()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        Compute(ledger, "u1:a2", T0, T0);
        Compute(ledger, "u1:a3", T0, T0);

        ledger.RecordRequest(lookups: 20, hits: 0);
        ledger.RecordRequest(lookups: 20, hits: 15);

        var s = Stats(ledger);
        Assert.Equal(15.0 / 40, s.GetProperty("coverage").GetDouble(), 12);
        Assert.Equal(1.5, s.GetProperty("foundationCallsPerRequest").GetDouble());
    }

    [Fact]
    public void Claim_NewEmbeddingWithoutRecomputeOnNewEmbedding_FreshUntilRefreshAfter()
    {
        var ledger = new PrecomputeLedger();
        Compute(ledger, "u1:a1", T0, T0);
        var newer = T0.AddSeconds(5);

        Assert.Empty(ledger.Claim(["u1:a1"], newer, newer - TimeSpan.FromSeconds(30), sameEmbedding: false));
        Assert.Equal(["u1:a1"], ledger.Claim(["u1:a1"], newer, newer - TimeSpan.FromSeconds(30), sameEmbedding: true));
    }
}
