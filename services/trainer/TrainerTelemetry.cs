using Mesh.Runtime.Telemetry;

namespace Mesh.Trainer;

/// <summary>The trainer's instruments (meter <c>trainer</c>), read from its <c>/v1/stats</c> figures when collected.</summary>
public static class TrainerTelemetry
{
    private const string Of = "mesh.ne.of";

    public static readonly StatsInstrument[] Instruments =
    [
        new("mesh.trainer.examples.trained", "{example}", "Labelled examples trained on; its rate is the trainer's examples/s.", Monotonic: true, new StatsReading("trainer.trainedExamples")),
        new("mesh.trainer.examples.shed", "{example}", "Examples shed because training fell behind.", Monotonic: true, new StatsReading("trainer.shedExamples")),
        new("mesh.trainer.windows", "{window}", "Validation windows closed (each may publish a version), and of those rejected.", Monotonic: true,
            new StatsReading("trainer.windows", "mesh.window.outcome", "closed"), new StatsReading("trainer.rejectedWindows", "mesh.window.outcome", "rejected")),
        new("mesh.trainer.model.version", "{version}", "The model version the trainer last published.", Monotonic: false, new StatsReading("trainer.publishedVersion")),
        new("mesh.trainer.ne", "1", "Normalized entropy (lower is better; 1 is the base rate): served over all labelled impressions, and of the last window's candidate, serving and small-tier models.", Monotonic: false,
            new StatsReading("servedNe", Of, "served"),
            new StatsReading("trainer.lastCandidateNe", Of, "candidate"),
            new StatsReading("trainer.lastServingNe", Of, "serving"),
            new StatsReading("trainer.lastSmallNe", Of, "small")),
        new("mesh.trainer.lag", "s", "How far the weights in training are ahead of the version serving: on the clock since the last publish, and in event time.", Monotonic: false,
            new StatsReading("trainer.sincePublish.seconds", "mesh.clock", "wall"), new StatsReading("trainer.sincePublish.eventSeconds", "mesh.clock", "event")),
        new("mesh.trainer.lag.examples", "{example}", "Examples trained since the last publish.", Monotonic: false, new StatsReading("trainer.sincePublish.examples")),
        new("mesh.trainer.labels.pending", "{impression}", "Impressions waiting for their label window to close.", Monotonic: false, new StatsReading("trainer.pendingLabels")),
    ];
}
