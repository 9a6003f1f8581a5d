using System.Diagnostics;
using System.Globalization;
using Mesh.Bench.Gemm;
using Mesh.Bench.Onnx;
using Mesh.Learning;
using Mesh.Learning.Kernels;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Microsoft.ML.OnnxRuntime;
using EngineGemm = Mesh.Learning.Kernels.Gemm;

namespace Mesh.Bench.Models;

/// <summary>
/// Throughput of the ranking networks and their model FLOP utilisation (MFU): the FLOPs the networks' own
/// <see cref="RankingNetwork.Cost"/> says a batch takes, per second, over the engine's GEMM rate at 512³ on the same
/// threads, timed in alternation with the model in the same run (so that other work on a shared machine hits both).
/// <c>infer</c> times a forward pass with served user embeddings (what the ranker runs), under the engine and (by
/// default) under ONNX Runtime's CPU provider, whose MFU is measured against the better of the engine's GEMM and ORT's
/// own 512³ MatMul; <c>train</c> times a <see cref="RankingTrainer"/> step (user tower, forward, backward, optimizer),
/// counted as 3 forward passes.
/// </summary>
public static class ThroughputBenchmark
{
    /// <summary>The reference product: 512 x 512 x 512.</summary>
    public const int GemmSize = 512;

    /// <summary>Training FLOPs per forward FLOP: the backward pass computes two products (input and weight gradients) per forward one.</summary>
    public const int TrainingFactor = 3;

    /// <summary>The largest difference between the engine's and ORT's click probabilities that passes (the export tests hold 1e-5).</summary>
    public const double OrtTolerance = 1e-4;

    private static readonly TimeSpan MinimumWarmup = TimeSpan.FromSeconds(1);

    public static int Run(string benchmark, string[] args)
    {
        var training = benchmark == "train";
        var (options, error) = ThroughputOptions.Parse(args, training ? ThroughputOptions.Train : ThroughputOptions.Infer);
        if (options is null)
        {
            Console.Error.WriteLine($"error: {error}\n\n{(training ? ThroughputOptions.TrainHelp : ThroughputOptions.InferHelp)}");
            return 2;
        }

        var output = Console.Out;
        BenchOutput.WriteMachine(output, benchmark, TimeProvider.System);
        var threads = options.Threads.Where(t => t <= Environment.ProcessorCount).DefaultIfEmpty(1).ToArray();
        output.WriteLine($"engine    Mesh.Learning GEMM, {EngineGemm.Best} micro-kernel (Auto)");
        if (options.Ort)
        {
            output.WriteLine($"ort       ONNX Runtime {OrtEnv.Instance().GetVersionString()}, CPU provider: each network's RankingOnnx.Network graph; IntraOpNumThreads = threads, ORT_SEQUENTIAL, ORT_ENABLE_ALL; inputs and outputs pre-allocated over the batch arrays");
        }

        output.WriteLine(training
            ? $"settings  RankingTrainer.Step on {options.Requests} requests x {options.Candidates} labelled candidates ({options.BatchSize} examples), default TrainingSettings; FLOPs = {TrainingFactor} x forward (network + user tower)"
            : $"settings  forward pass on {options.Requests} request(s) x {options.Candidates} candidates ({options.BatchSize}) with served user embeddings, as the ranker scores; FLOPs = the network's Cost");
        output.WriteLine(options.Ort
            ? $"          {options.Warmup} warm-up (at least 1 s) + {options.Repetitions} timed repetitions, median, each: an engine batch, one engine {GemmSize}³ GEMM, an ORT batch, one ORT {GemmSize}³ MatMul, all on the same threads; threads {string.Join(", ", threads)}"
            : $"          {options.Warmup} warm-up (at least 1 s) + {options.Repetitions} timed batches, median, each followed by one {GemmSize}³ GEMM on the same threads (the MFU reference); threads {string.Join(", ", threads)}");
        output.WriteLine();

        var batches = Inputs(options, served: !training);
        var results = new List<Result>();
        foreach (var t in threads)
        {
            var busy = MachineCpu.Busy();
            var own = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            var measured = options.Models.Select(model => training ? MeasureTraining(model, batches, options, t) : MeasureInference(model, batches, options, t)).ToList();
            var other = busy is { } before && MachineCpu.Busy() is { } after
                ? ((after - before) - (Process.GetCurrentProcess().TotalProcessorTime - own)).TotalSeconds / wall.Elapsed.TotalSeconds
                : double.NaN;
            results.AddRange(measured.Select(r => r with { OtherCores = other }));
        }

        BenchOutput.WriteLoad(output, "load at the end: ");
        Write(output, benchmark, training, results, threads.Max());
        if (options.Ort)
        {
            WriteOrt(output, benchmark, results, threads.Max());
        }

        var wrong = results.Where(r => r.Ort is { } o && !(o.MaxAbsDifference <= OrtTolerance)).ToList();
        foreach (var r in wrong)
        {
            Console.Error.WriteLine($"error: {r.Model.Key} on {r.Threads} thread(s): ONNX Runtime's scores differ from the engine's by {r.Ort!.MaxAbsDifference:E2} (over {OrtTolerance:E0})");
        }

        return wrong.Count == 0 ? 0 : 1;
    }

    /// <summary>One model on one thread count: median batch time, its FLOPs, and the GEMM rate timed beside it.</summary>
    public sealed record Result(BenchModel Model, int Threads, int BatchSize, double Seconds, double P10, double P90, double Flops, double GemmGflops, double OtherCores)
    {
        public double PerSecond => BatchSize / Seconds;

        public double Gflops => Flops / Seconds / 1e9;

        public double Mfu => Gflops / GemmGflops;

        /// <summary>The same network under ONNX Runtime's CPU provider, timed in alternation with the engine; null when not measured.</summary>
        public OrtFigures? Ort { get; init; }

        /// <summary>ORT's MFU reference: the better of the engine's GEMM and ORT's MatMul, both timed beside the model.</summary>
        public GemmReference Reference => GemmReference.Best(GemmGflops, Ort?.MatMulGflops ?? double.NaN);

        public double OrtPerSecond => Ort is { } o ? BatchSize / o.Seconds : double.NaN;

        public double OrtGflops => Ort is { } o ? Flops / o.Seconds / 1e9 : double.NaN;

        public double OrtMfu => OrtGflops / Reference.Gflops;
    }

    /// <summary>One network under ONNX Runtime: median, 10th and 90th percentile seconds per batch, ORT's 512³ MatMul rate, and the largest |engine − ORT| click probability over the batches.</summary>
    public sealed record OrtFigures(double Seconds, double P10, double P90, double MatMulGflops, double MaxAbsDifference);

    /// <summary>
    /// Distinct batches from the synthetic world (requests with their users' recent events, candidates from retrieval),
    /// cycled through while timing so that embedding rows and sequences vary. <paramref name="served"/>: each request
    /// carries a user embedding (from an untrained, seeded user tower), as the ranker receives them.
    /// </summary>
    public static IReadOnlyList<RankingBatch> Inputs(ThroughputOptions options, bool served, int count = 4)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stream = ImpressionStream.Generate(new ImpressionStreamOptions
        {
            Seed = options.Seed,
            Candidates = options.Candidates,
            Served = options.Candidates,
            Impressions = count * options.BatchSize,
            HoldoutRequests = 0,
        });
        var tower = new UserTower("user", new Random(options.Seed));
        var batches = new List<RankingBatch>(count);
        for (var i = 0; i < count; i++)
        {
            var requests = stream.Training.Skip(i * options.Requests).Take(options.Requests).ToList();
            var inputs = requests.Select(r => r.Input).ToList();
            if (served)
            {
                inputs = [.. inputs.Select(input => input with { UserEmbedding = Embed(tower, input) })];
            }

            batches.Add(RankingBatch.Create(inputs, [.. requests.SelectMany(r => r.Labels)]));
        }

        return batches;
    }

    private static float[] Embed(UserTower tower, RankingInput input)
    {
        var g = new Graph(training: false);
        return tower.Forward(g, RankingBatch.Create([input with { Ads = [] }])).ToArray();
    }

    private static Result MeasureInference(BenchModel model, IReadOnlyList<RankingBatch> batches, ThroughputOptions options, int threads)
    {
        var rng = new Random(options.Seed);
        var network = BenchModels.WithoutZeroParameters(model.Create(rng), rng);
        var g = new Graph(training: false) { GemmThreads = threads };
        var scores = new float[batches.Max(b => b.Candidates)];
        var i = 0;
        void Engine()
        {
            var batch = batches[i++ % batches.Count];
            g.Reset();
            var user = g.Input(batch.ServedEmbeddings, new Shape(batch.Requests, FeatureSpace.UserEmbeddingDimension));
            network.Score(batch, user, scores.AsSpan(0, batch.Candidates), g);
        }

        var (a, b, c) = GemmOperands();
        void Gemm() => EngineGemm.Multiply(Transpose.No, Transpose.No, GemmSize, GemmSize, GemmSize, 1f, a, GemmSize, b, GemmSize, 0f, c, GemmSize, threads);
        var first = batches[0];
        var flops = ((double)first.Candidates * network.Cost.FlopsPerCandidate) + ((double)first.Requests * network.Cost.FlopsPerRequest);
        if (!options.Ort)
        {
            var (seconds, p10, p90, gemm) = Summarize(Time(options, Engine, Gemm));
            return new Result(model, threads, first.Candidates, seconds, p10, p90, flops, gemm, double.NaN);
        }

        using var sessionOptions = OrtSessions.Cpu(threads);
        using var onnx = new OrtNetwork(network, batches, sessionOptions);
        using var matMul = new OrtMatMul(GemmSize, a, b, new float[GemmSize * GemmSize], sessionOptions);
        var j = 0;
        var timings = Time(options, Engine, Gemm, () => onnx.Run(j++ % batches.Count), matMul.Run);
        var engine = Summarize(timings[..2]);
        var ort = Summarize(timings[2..]);
        return new Result(model, threads, first.Candidates, engine.Median, engine.P10, engine.P90, flops, engine.GemmGflops, double.NaN)
        {
            Ort = new OrtFigures(ort.Median, ort.P10, ort.P90, ort.GemmGflops, MaxScoreDifference(network, batches, onnx, threads)),
        };
    }

    /// <summary>
    /// The largest |engine − ORT| click probability over every batch: the engine's <see cref="RankingNetwork.Score"/>
    /// on <paramref name="threads"/> against a run of <paramref name="onnx"/> (built from the same network) on each batch.
    /// </summary>
    public static double MaxScoreDifference(RankingNetwork network, IReadOnlyList<RankingBatch> batches, OrtNetwork onnx, int threads)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(onnx);
        var worst = 0.0;
        for (var k = 0; k < batches.Count; k++)
        {
            var batch = batches[k];
            var g = new Graph(training: false) { GemmThreads = threads };
            var expected = new float[batch.Candidates];
            network.Score(batch, g.Input(batch.ServedEmbeddings, new Shape(batch.Requests, FeatureSpace.UserEmbeddingDimension)), expected, g);
            onnx.Run(k);
            var actual = onnx.Scores(k);
            for (var n = 0; n < expected.Length; n++)
            {
                var d = Math.Abs(expected[n] - actual[n]);
                worst = double.IsNaN(d) ? double.NaN : Math.Max(worst, d);
                if (double.IsNaN(worst))
                {
                    return worst;
                }
            }
        }

        return worst;
    }

    private static Result MeasureTraining(BenchModel model, IReadOnlyList<RankingBatch> batches, ThroughputOptions options, int threads)
    {
        // The backward products run on Gemm.MaxThreads (the graph's GemmThreads covers the forward ones only).
        var previous = EngineGemm.MaxThreads;
        EngineGemm.MaxThreads = threads;
        try
        {
            var rng = new Random(options.Seed);
            var tower = new UserTower("user", rng);
            var network = model.Create(rng);
            var trainer = new RankingTrainer(tower, [network], new TrainingSettings { GemmThreads = threads });
            var i = 0;
            var (a, b, c) = GemmOperands();
            var (seconds, p10, p90, gemm) = Summarize(Time(options,
                () => trainer.Step(batches[i++ % batches.Count]),
                () => EngineGemm.Multiply(Transpose.No, Transpose.No, GemmSize, GemmSize, GemmSize, 1f, a, GemmSize, b, GemmSize, 0f, c, GemmSize, threads)));
            var first = batches[0];
            var forward = ((double)first.Candidates * network.Cost.FlopsPerCandidate) + ((double)first.Requests * (network.Cost.FlopsPerRequest + UserTower.FlopsPerRequest));
            return new Result(model, threads, first.Candidates, seconds, p10, p90, TrainingFactor * forward, gemm, double.NaN);
        }
        finally
        {
            EngineGemm.MaxThreads = previous;
        }
    }

    /// <summary>
    /// The MFU references alone: the engine's 512³ GEMM and ONNX Runtime's 512³ MatMul on <paramref name="threads"/>,
    /// alternated, after at least a second of warm-up; the median rate of each in GFLOP/s (what <see cref="GemmReference.Best"/> takes).
    /// </summary>
    public static (double EngineGflops, double OrtGflops) MeasureGemmRates(int threads, int repetitions)
    {
        var (a, b, c) = GemmOperands();
        using var sessionOptions = OrtSessions.Cpu(threads);
        using var matMul = new OrtMatMul(GemmSize, a, b, new float[GemmSize * GemmSize], sessionOptions);
        var timings = Time(new ThroughputOptions { Warmup = 5, Repetitions = repetitions },
            () => EngineGemm.Multiply(Transpose.No, Transpose.No, GemmSize, GemmSize, GemmSize, 1f, a, GemmSize, b, GemmSize, 0f, c, GemmSize, threads),
            matMul.Run);
        static double Rate(List<double> seconds) => 2.0 * GemmSize * GemmSize * GemmSize / BenchStatistics.Percentile(seconds, 0.5) / 1e9;
        return (Rate(timings[0]), Rate(timings[1]));
    }

    private static (float[] A, float[] B, float[] C) GemmOperands()
    {
        var rng = new Random(1);
        return (GemmBenchmark.RandomMatrix(rng, GemmSize * GemmSize), GemmBenchmark.RandomMatrix(rng, GemmSize * GemmSize), new float[GemmSize * GemmSize]);
    }

    // Runs the steps in turn, once each per repetition (a model batch, then its reference GEMM, ...), so that other work
    // on a shared machine hits them alike; returns each step's seconds per timed repetition. Warm-up: the given count and
    // at least a second, so that the JIT has recompiled the hot methods (tiered compilation promotes a method after 30
    // calls, in the background) before anything is timed.
    private static List<double>[] Time(ThroughputOptions options, params Action[] steps)
    {
        var warmup = Stopwatch.StartNew();
        for (var r = 0; r < options.Warmup || warmup.Elapsed < MinimumWarmup; r++)
        {
            foreach (var step in steps)
            {
                step();
            }
        }

        var timings = steps.Select(_ => new List<double>(options.Repetitions)).ToArray();
        for (var r = 0; r < options.Repetitions; r++)
        {
            for (var k = 0; k < steps.Length; k++)
            {
                var start = Stopwatch.GetTimestamp();
                steps[k]();
                timings[k].Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
        }

        return timings;
    }

    // A model's timings and its reference GEMM's: the model's median, 10th and 90th percentile seconds and the GEMM's
    // median rate in GFLOP/s.
    private static (double Median, double P10, double P90, double GemmGflops) Summarize(List<double>[] modelAndGemm) =>
        (BenchStatistics.Percentile(modelAndGemm[0], 0.5), BenchStatistics.Percentile(modelAndGemm[0], 0.1), BenchStatistics.Percentile(modelAndGemm[0], 0.9),
            2.0 * GemmSize * GemmSize * GemmSize / BenchStatistics.Percentile(modelAndGemm[1], 0.5) / 1e9);

    private static void Write(TextWriter output, string benchmark, bool training, IReadOnlyList<Result> results, int headlineThreads)
    {
        var rate = training ? "examples/s" : "candidates/s";
        output.WriteLine($"{"model",-13}{"threads",8}{"batch",7}{"ms p50",9}{"ms p10",9}{"ms p90",9}{rate,14}{"MFLOP/row",11}{"GFLOP/s",9}{"GEMM GFLOP/s",14}{"MFU",7}{"other cores",13}");
        foreach (var r in results)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model.Key,-13}{r.Threads,8}{r.BatchSize,7}{r.Seconds * 1e3,9:F2}{r.P10 * 1e3,9:F2}{r.P90 * 1e3,9:F2}{r.PerSecond,14:F0}{r.Flops / r.BatchSize / 1e6,11:F3}{r.Gflops,9:F1}{r.GemmGflops,14:F1}{r.Mfu,7:F3}{r.OtherCores,13:F2}"));
        }

        output.WriteLine();
        output.WriteLine(training
            ? "MFLOP/row: training FLOPs per example (3 x forward); MFU: achieved GFLOP/s over the 512³ GEMM's on the same threads, same run; other cores: CPU other processes used meanwhile"
            : "MFLOP/row: forward FLOPs per candidate; MFU: achieved GFLOP/s over the 512³ GEMM's on the same threads, same run; other cores: CPU other processes used meanwhile");
        output.WriteLine();
        var unit = training ? "examples/s" : "candidates/s";
        var perSecond = training ? "examples_per_s" : "candidates_per_s";
        foreach (var r in results)
        {
            var name = $"{benchmark}_{r.Model.Key}_{r.Threads}t";
            BenchOutput.WriteFigure(output, $"{name}_{perSecond}", r.PerSecond, unit);
            BenchOutput.WriteFigure(output, $"{name}_gflops", r.Gflops, "GFLOP/s");
            BenchOutput.WriteFigure(output, $"{name}_gemm_gflops", r.GemmGflops, "GFLOP/s");
            BenchOutput.WriteFigure(output, $"{name}_mfu", r.Mfu, "ratio");
        }

        // The headline figures: all the machine's cores (the most threads measured).
        foreach (var r in results.Where(r => r.Threads == headlineThreads))
        {
            BenchOutput.WriteFigure(output, $"{benchmark}_{r.Model.Key}_{perSecond}", r.PerSecond, unit);
            BenchOutput.WriteFigure(output, $"{benchmark}_{r.Model.Key}_mfu", r.Mfu, "ratio");
        }

        foreach (var t in results.Select(r => r.Threads).Distinct())
        {
            BenchOutput.WriteFigure(output, $"{benchmark}_{t}t_other_cores", results.First(r => r.Threads == t).OtherCores, "cores");
        }
    }

    private static void WriteOrt(TextWriter output, string benchmark, IReadOnlyList<Result> results, int headlineThreads)
    {
        output.WriteLine();
        output.WriteLine("ONNX Runtime, CPU provider (the same networks and batches, timed in alternation with the engine):");
        output.WriteLine($"{"model",-13}{"threads",8}{"batch",7}{"ms p50",9}{"ms p10",9}{"ms p90",9}{"candidates/s",14}{"GFLOP/s",9}{"MatMul GFLOP/s",16}{"reference",11}{"ref GFLOP/s",13}{"MFU",7}{"vs engine",11}{"max |diff|",12}");
        foreach (var r in results.Where(r => r.Ort is not null))
        {
            var o = r.Ort!;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model.Key,-13}{r.Threads,8}{r.BatchSize,7}{o.Seconds * 1e3,9:F2}{o.P10 * 1e3,9:F2}{o.P90 * 1e3,9:F2}{r.OrtPerSecond,14:F0}{r.OrtGflops,9:F1}{o.MatMulGflops,16:F1}{r.Reference.Source,11}{r.Reference.Gflops,13:F1}{r.OrtMfu,7:F3}{r.OrtPerSecond / r.PerSecond,11:F3}{o.MaxAbsDifference,12:E1}"));
        }

        output.WriteLine();
        output.WriteLine("MatMul: ORT's own 512³ MatMul on the same threads; reference: the faster of it and the engine's 512³ GEMM (GEMM GFLOP/s above), which ORT's MFU divides by;");
        output.WriteLine("vs engine: ORT's candidates/s over the engine's; max |diff|: the largest difference of the click probabilities, engine against ORT, over the batches");
        output.WriteLine();
        foreach (var r in results.Where(r => r.Ort is not null))
        {
            var name = $"{benchmark}_{r.Model.Key}_{r.Threads}t";
            BenchOutput.WriteFigure(output, $"{name}_ort_candidates_per_s", r.OrtPerSecond, "candidates/s");
            BenchOutput.WriteFigure(output, $"{name}_ort_gflops", r.OrtGflops, "GFLOP/s");
            BenchOutput.WriteFigure(output, $"{name}_ort_matmul_gflops", r.Ort!.MatMulGflops, "GFLOP/s");
            BenchOutput.WriteFigure(output, $"{name}_mfu_reference_gflops", r.Reference.Gflops, "GFLOP/s");
            BenchOutput.WriteFigure(output, $"{name}_ort_mfu", r.OrtMfu, "ratio");
            BenchOutput.WriteFigure(output, $"{name}_ort_vs_engine", r.OrtPerSecond / r.PerSecond, "ratio");
            // In E notation: the usual differences (1e-8) would print as 0.000.
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{BenchOutput.Prefix} {name}_ort_max_abs_diff {r.Ort.MaxAbsDifference:0.0E+0} probability"));
        }

        foreach (var r in results.Where(r => r.Ort is not null && r.Threads == headlineThreads))
        {
            BenchOutput.WriteFigure(output, $"{benchmark}_{r.Model.Key}_ort_candidates_per_s", r.OrtPerSecond, "candidates/s");
            BenchOutput.WriteFigure(output, $"{benchmark}_{r.Model.Key}_ort_mfu", r.OrtMfu, "ratio");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"mfu reference for {benchmark}_{r.Model.Key}_ort_mfu: {(r.Reference.Source == GemmReference.Engine ? "the engine's GEMM" : "ONNX Runtime's MatMul")} ({r.Reference.Gflops:F1} GFLOP/s on {r.Threads} thread(s); engine {r.GemmGflops:F1}, ORT {r.Ort!.MatMulGflops:F1})"));
        }
    }
}
