using System.Diagnostics;
using System.Globalization;
using Mesh.Bench.Models;
using Mesh.Learning.Metrics;
using Mesh.Models;
using Mesh.Models.Distillation;
using Mesh.Models.Features;
using Mesh.Models.Foundation;
using Mesh.Models.Networks;
using DistillationSettings = Mesh.Models.Distillation.ExfmOptions;

namespace Mesh.Bench.Exfm;

/// <summary>
/// <c>bench/run.sh exfm</c>: ExFM's four-way ablation (issue 12, item 4). One drifting synthetic stream
/// (<see cref="ImpressionStream"/>: the world's default interest drift); a foundation model (FM) trained on the first
/// <see cref="ExfmOptions.Pretrain"/> requests and published, then trained online on the measured stream and published
/// again every <see cref="ExfmOptions.Lag"/> batches; one <see cref="DataAugmentation"/> joins the published FM's ŷ_F to
/// the rows of every student that learns from it, running the FM once per unique example; students (DHEN small with two
/// distillation heads, their own user tower) trained in lockstep on the same batches, one per arm: no FM, KD into the
/// serving head, auxiliary head (AH), AH + student adapter (SA). Figures are progressive NE on the stream's second half.
/// </summary>
public static class ExfmBenchmark
{
    /// <summary>Requests per training step (320 impressions), the trainer's batch.</summary>
    public const int BatchRequests = 32;

    // The FM: smaller than FoundationConfig.Default (width 32, 8 layers, hidden 1024), so that one seed stays near a minute
    // on 2 cores; the size of the scratch measurements this benchmark replaces.
    private static readonly FoundationConfig FoundationSize = new(Width: 16, Layers: 3, Hidden: 256, Heads: 2);

    public static int Run(string[] args)
    {
        var (options, error) = ExfmOptions.Parse(args);
        if (options is null)
        {
            Console.Error.WriteLine($"error: {error}\n\n{ExfmOptions.Help}");
            return 2;
        }

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "exfm", TimeProvider.System);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stream    {options.Requests} requests (+{options.Pretrain} FM pretraining) at {options.Rate}/s simulated, lag {options.Lag} batches of {BatchRequests}, alpha {options.Alpha}, beta {options.Beta}, w {options.W}"));
        var results = new List<SeedResult>();
        foreach (var seed in options.Seeds)
        {
            var result = Measure(options, seed, Console.Error);
            results.Add(result);
            WriteTable(output, $"seed {seed}", [result]);
        }

        if (results.Count > 1)
        {
            WriteTable(output, $"mean of {results.Count} seeds", [.. results]);
        }

        BenchOutput.WriteLoad(output, "load at the end: ");
        WriteFigures(output, [.. results]);
        return 0;
    }

    /// <summary>One arm's student: its progressive NE and AUC on the second half, and its training time.</summary>
    public sealed record ArmResult(DistillationMode Mode, double Ne, double Auc, TimeSpan Training);

    /// <summary>
    /// One seed's run. <see cref="FmCallsPerExample"/>: examples the FM was run on over the unique examples joined while a
    /// teacher was published, with <see cref="Students"/> students joining each (1 is ExFM's 1:N).
    /// </summary>
    public sealed record SeedResult(
        int Seed,
        IReadOnlyList<ArmResult> Arms,
        double FmNe,
        double OptimalNe,
        double BaseNe,
        int Students,
        long FmExamples,
        long UniqueExamples,
        long JoinedRows,
        TimeSpan FmTraining)
    {
        public double FmCallsPerExample => UniqueExamples > 0 ? (double)FmExamples / UniqueExamples : double.NaN;

        /// <summary>NE of an arm; NaN when it was not run.</summary>
        public double Ne(DistillationMode mode) => Arms.FirstOrDefault(a => a.Mode == mode)?.Ne ?? double.NaN;

        /// <summary>
        /// (NE_nofm − NE_ahsa) / (NE_nofm − NE_fm): the share of the FM's advantage over the student without it that AH + SA
        /// carries into the student. NaN when an arm is missing or the FM is no better than the student without it.
        /// </summary>
        public double TransferRatio => TransferRatioOf(Ne(DistillationMode.None), Ne(DistillationMode.AuxiliaryHeadWithAdapter), FmNe);
    }

    /// <summary>(<paramref name="noFm"/> − <paramref name="student"/>) / (<paramref name="noFm"/> − <paramref name="fm"/>); NaN when the FM gains nothing.</summary>
    public static double TransferRatioOf(double noFm, double student, double fm) =>
        noFm - fm > 0 ? (noFm - student) / (noFm - fm) : double.NaN;

    /// <summary>One seed of the ablation. Deterministic for (options, seed): every model computes on one thread.</summary>
    public static SeedResult Measure(ExfmOptions options, int seed, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        var clock = Stopwatch.StartNew();
        var stream = ImpressionStream.Generate(new ImpressionStreamOptions
        {
            Seed = seed,
            Impressions = (options.Pretrain + options.Requests) * 10,
            HoldoutRequests = 0,
            RequestsPerSecond = options.Rate,
        });
        var pretrain = stream.Training.Take(options.Pretrain).Chunk(BatchRequests).ToArray();
        var batches = stream.Training.Skip(options.Pretrain).Chunk(BatchRequests).ToArray();
        log.WriteLine($"exfm seed {seed}: stream of {stream.Training.Count} requests in {clock.Elapsed.TotalSeconds:F0} s");

        // One GEMM thread per model: the arithmetic order, hence every figure, does not depend on the scheduling.
        var settings = new TrainingSettings { DenseLearningRate = 1e-3f, GemmThreads = 1 };
        var fm = LearnedFoundationModel.CreateInitial(seed, FoundationSize);
        var fmTrainer = fm.Trainer(settings);
        var fmTicks = Stopwatch.GetTimestamp();
        foreach (var batch in pretrain)
        {
            fmTrainer.Step(fm.Encode(Inputs(batch), Labels(batch)));
        }

        fmTicks = Stopwatch.GetTimestamp() - fmTicks;
        var version = 0L;
        var das = new DataAugmentation(pretrain.Length > 0 ? Publish(fm, ++version, options.Pretrain) : null);
        log.WriteLine($"exfm seed {seed}: FM pretrained on {options.Pretrain} requests in {Stopwatch.GetElapsedTime(0, fmTicks).TotalSeconds:F0} s");

        var arms = options.Arms.Select(mode => new Arm(mode, seed, settings, new DistillationSettings
        {
            Mode = mode,
            LabelScale = options.Alpha,
            BackboneGradient = options.Beta,
            Weight = options.W,
        })).ToArray();
        var students = arms.Count(a => a.LearnsFromTeacher);
        var half = batches.Length / 2;
        var fmMetrics = new BinaryMetrics();
        var optimal = new BinaryMetrics();
        var baseRate = new BinaryMetrics();
        var unique = 0L;
        var row = 0L;
        foreach (var (batch, b) in batches.Select((x, i) => (x, i)))
        {
            var inputs = Inputs(batch);
            var labels = Labels(batch);
            var keys = Enumerable.Range(0, labels.Length).Select(i => (row + i).ToString(CultureInfo.InvariantCulture)).ToArray();
            row += labels.Length;
            unique += das.Teacher is null ? 0 : labels.Length;

            // Every student joins through the one DAS, as the trainer's students would: the FM runs on the first join only.
            float[]? joined = null;
            foreach (var arm in arms.Where(a => a.LearnsFromTeacher))
            {
                arm.Teacher = das.Join(inputs, keys);
                joined ??= arm.Teacher;
            }

            joined ??= das.Teacher is null ? null : das.Join(inputs, keys);
            var tasks = arms.Select(arm => (Action)(() => arm.Step(inputs, labels, b >= half)))
                .Append(() =>
                {
                    var started = Stopwatch.GetTimestamp();
                    fmTrainer.Step(fm.Encode(inputs, labels));
                    fmTicks += Stopwatch.GetTimestamp() - started;
                })
                .ToArray();
            Parallel.Invoke(tasks);

            if (b >= half)
            {
                // The FM as the students saw it (the published version, joined); the prior where none was published yet.
                var teacher = joined ?? new float[labels.Length];
                fmMetrics.Add(teacher.Select(p => float.IsNaN(p) || joined is null ? (float)Priors.ClickRate : p).ToArray(), labels);
                optimal.Add(batch.SelectMany(r => r.Probabilities).Select(p => (float)p).ToArray(), labels);
                baseRate.Add(Enumerable.Repeat((float)Priors.ClickRate, labels.Length).ToArray(), labels);
            }

            if ((b + 1) % options.Lag == 0)
            {
                das.Teacher = Publish(fm, ++version, options.Pretrain + ((b + 1) * BatchRequests));
            }
        }

        log.WriteLine($"exfm seed {seed}: {batches.Length} batches, {arms.Length} students and the FM in {clock.Elapsed.TotalSeconds:F0} s");
        return new SeedResult(
            seed,
            [.. arms.Select(a => new ArmResult(a.Mode, a.Metrics.NormalizedEntropy, a.Metrics.Auc, a.Training))],
            fmMetrics.NormalizedEntropy,
            optimal.NormalizedEntropy,
            baseRate.NormalizedEntropy,
            students,
            das.TeacherExamples,
            unique,
            das.JoinedRows,
            Stopwatch.GetElapsedTime(0, fmTicks));
    }

    // A published FM is a copy through its checkpoint, as the model store hands it out: later training does not reach it.
    private static LearnedFoundationModel Publish(LearnedFoundationModel fm, long version, long requests) =>
        LearnedFoundationModel.FromCheckpoint(fm.ToCheckpoint(version, requests * 10));

    private static RankingInput[] Inputs(StreamRequest[] batch) => [.. batch.Select(r => r.Input)];

    private static float[] Labels(StreamRequest[] batch) => [.. batch.SelectMany(r => r.Labels)];

    private static void WriteTable(TextWriter output, string title, SeedResult[] results)
    {
        var first = results[0];
        output.WriteLine();
        output.WriteLine($"{title}: progressive NE on the stream's second half (lower is better)");
        output.WriteLine($"  {"model",-28} {"NE",8} {"AUC",8} {"train s",8}");
        foreach (var arm in first.Arms)
        {
            var rows = results.Select(r => r.Arms.First(a => a.Mode == arm.Mode)).ToArray();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {"student " + ExfmOptions.Key(arm.Mode),-28} {rows.Average(a => a.Ne),8:F4} {rows.Average(a => a.Auc),8:F4} {rows.Average(a => a.Training.TotalSeconds),8:F1}"));
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"FM (published, as joined)",-28} {results.Average(r => r.FmNe),8:F4} {"",8} {results.Average(r => r.FmTraining.TotalSeconds),8:F1}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"planted optimum",-28} {results.Average(r => r.OptimalNe),8:F4}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {"prior (4%)",-28} {results.Average(r => r.BaseNe),8:F4}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  transfer ratio (AH + SA) {Mean(results.Select(r => r.TransferRatio)):F3}; FM calls per unique example {results.Average(r => r.FmCallsPerExample):F3} with {first.Students} students sharing it ({results.Sum(r => r.FmExamples)} FM examples, {results.Sum(r => r.JoinedRows)} rows joined)"));
        output.WriteLine($"  NE order: {string.Join(" > ", first.Arms.OrderByDescending(a => results.Average(r => r.Ne(a.Mode))).Select(a => ExfmOptions.Key(a.Mode)))}");
    }

    private static void WriteFigures(TextWriter output, SeedResult[] results)
    {
        foreach (var mode in ExfmOptions.AllArms)
        {
            var ne = Mean(results.Select(r => r.Ne(mode)));
            if (!double.IsNaN(ne))
            {
                BenchOutput.WriteFigure(output, $"exfm_{ExfmOptions.Key(mode)}_ne", ne, "ne");
            }
        }

        BenchOutput.WriteFigure(output, "exfm_fm_ne", results.Average(r => r.FmNe), "ne");
        BenchOutput.WriteFigure(output, "exfm_optimal_ne", results.Average(r => r.OptimalNe), "ne");
        // The ratio of the means: a seed where the FM gains little would otherwise dominate a mean of ratios.
        BenchOutput.WriteFigure(output, "exfm_transfer_ratio",
            TransferRatioOf(Mean(results.Select(r => r.Ne(DistillationMode.None))), Mean(results.Select(r => r.Ne(DistillationMode.AuxiliaryHeadWithAdapter))), results.Average(r => r.FmNe)),
            "ratio");
        BenchOutput.WriteFigure(output, "exfm_fm_calls_per_example", results.Average(r => r.FmCallsPerExample), "calls");
        BenchOutput.WriteFigure(output, "exfm_fm_students", (long)results[0].Students, "students");
    }

    private static double Mean(IEnumerable<double> values)
    {
        var list = values.ToArray();
        return list.Length == 0 || list.Any(double.IsNaN) ? double.NaN : list.Average();
    }

    /// <summary>One student of the ablation: DHEN small with two distillation heads and its own user tower, seeded alike in every arm.</summary>
    private sealed class Arm
    {
        private readonly RankingTrainer _trainer;
        private long _ticks;

        public Arm(DistillationMode mode, int seed, TrainingSettings settings, DistillationSettings distillation)
        {
            Mode = mode;
            var rng = new Random(seed + 100);
            var tower = new UserTower("user", rng);
            var student = new Dhen(Contracts.Tiers.Small, DhenConfig.Small with { DistillationHeads = 2 }, rng);
            _trainer = new RankingTrainer(tower, [student], settings, distillation);
        }

        public DistillationMode Mode { get; }

        public bool LearnsFromTeacher => Mode != DistillationMode.None;

        /// <summary>This batch's ŷ_F (NaN where no FM was published); null for the arm without FM.</summary>
        public float[]? Teacher { get; set; }

        public BinaryMetrics Metrics { get; } = new();

        public TimeSpan Training => Stopwatch.GetElapsedTime(0, _ticks);

        public void Step(RankingInput[] inputs, float[] labels, bool measure)
        {
            var started = Stopwatch.GetTimestamp();
            var predictions = _trainer.Step(RankingBatch.Create(inputs, labels), Teacher.AsSpan())[0];
            _ticks += Stopwatch.GetTimestamp() - started;
            if (measure)
            {
                Metrics.Add(predictions, labels);
            }
        }
    }
}
