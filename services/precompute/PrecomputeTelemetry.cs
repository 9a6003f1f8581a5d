using Mesh.Runtime.Telemetry;

namespace Mesh.Precompute;

/// <summary>precompute's instruments (meter <c>precompute</c>), read from its <c>/v1/stats</c> figures when collected.</summary>
public static class PrecomputeTelemetry
{
    private const string Outcome = "mesh.precompute.outcome";

    public static readonly StatsInstrument[] Instruments =
    [
        new("mesh.precompute.representations", "{representation}", "Precomputed representations: computed, used by the ranker, and expired used or unused (waste).", Monotonic: true,
            new StatsReading("precompute.computed", Outcome, "computed"),
            new StatsReading("precompute.used", Outcome, "used"),
            new StatsReading("precompute.expiredUsed", Outcome, "expired_used"),
            new StatsReading("precompute.expiredUnused", Outcome, "expired_unused")),
        new("mesh.precompute.live", "{representation}", "Representations stored and not yet expired.", Monotonic: false, new StatsReading("precompute.live")),
        new("mesh.precompute.waste", "1", "Share of expired representations that were never used.", Monotonic: false, new StatsReading("precompute.wasteRate")),
    ];
}
