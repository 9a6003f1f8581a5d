using System.Diagnostics;
using System.Globalization;
using Mesh.Bench.Gemm;
using Mesh.Learning;
using Mesh.Learning.Kernels;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using EngineGemm = Mesh.Learning.Kernels.Gemm;

namespace Mesh.Bench.Models;

/// <summary>
/// Throughput of the ranking networks and their model FLOP utilisation (MFU): the FLOPs the networks' own
/// <see cref="RankingNetwork.Cost"/> says a batch takes, per second, over the engine's GEMM rate at 512³ on the same
/// threads, timed in alternation with the model in the same run (so that other work on a shared machine hits both).
/// <c>infer</c> times a forward pass with served user embeddings (what the ranker runs); <c>train</c> times a
/// <see cref="RankingTrainer"/> step (user tower, forward, backward, optimizer), counted as 3 forward passes.
/// </summary>
public static class ThroughputBenchmark
{
    /// <summary>The reference product: 512 x 512 x 512.</summary>
    public const int GemmSize = 512;

    /// <summary>Training FLOPs per forward FLOP: the backward pass computes two products (input and weight gradients) per forward one.</summary>
    public const int TrainingFactor = 3;

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
        output.WriteLine(training
            ? $"settings  RankingTrainer.Step on {options.Requests} requests x {options.Candidates} labelled candidates ({options.BatchSize} examples), default TrainingSettings; FLOPs = {TrainingFactor} x forward (network + user tower)"
            : $"settings  forward pass on {options.Requests} request(s) x {options.Candidates} candidates ({options.BatchSize}) with served user embeddings, as the ranker scores; FLOPs = the network's Cost");
        output.WriteLine($"          {options.Warmup} warm-up (at least 1 s) + {options.Repetitions} timed batches, median, each followed by one {GemmSize}³ GEMM on the same threads (the MFU reference); threads {string.Join(", ", threads)}");
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
        return 0;
    }

    /// <summary>One model on one thread count: median batch time, its FLOPs, and the GEMM rate timed beside it.</summary>
    public sealed record Result(BenchModel Model, int Threads, int BatchSize, double Seconds, double P10, double P90, double Flops, double GemmGflops, double OtherCores)
    {
        public double PerSecond => BatchSize / Seconds;

        public double Gflops => Flops / Seconds / 1e9;

        public double Mfu => Gflops / GemmGflops;
    }

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
        var network = model.Create(new Random(options.Seed));
        var g = new Graph(training: false) { GemmThreads = threads };
        var scores = new float[batches.Max(b => b.Candidates)];
        var i = 0;
        var (seconds, p10, p90, gemm) = Time(options, threads, () =>
        {
            var batch = batches[i++ % batches.Count];
            g.Reset();
            var user = g.Input(batch.ServedEmbeddings, new Shape(batch.Requests, FeatureSpace.UserEmbeddingDimension));
            network.Score(batch, user, scores.AsSpan(0, batch.Candidates), g);
        });
        var b = batches[0];
        var flops = ((double)b.Candidates * network.Cost.FlopsPerCandidate) + ((double)b.Requests * network.Cost.FlopsPerRequest);
        return new Result(model, threads, b.Candidates, seconds, p10, p90, flops, gemm, double.NaN);
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
            var (seconds, p10, p90, gemm) = Time(options, threads, () => trainer.Step(batches[i++ % batches.Count]));
            var b = batches[0];
            var forward = ((double)b.Candidates * network.Cost.FlopsPerCandidate) + ((double)b.Requests * (network.Cost.FlopsPerRequest + UserTower.FlopsPerRequest));
            return new Result(model, threads, b.Candidates, seconds, p10, p90, TrainingFactor * forward, gemm, double.NaN);
        }
        finally
        {
            EngineGemm.MaxThreads = previous;
        }
    }

    // Alternates one model batch and one reference GEMM; returns the model's median, 10th and 90th percentile seconds
    // and the GEMM's median rate in GFLOP/s.
    private static (double Median, double P10, double P90, double GemmGflops) Time(ThroughputOptions options, int threads, Action batch)
    {
        var rng = new Random(1);
        var a = GemmBenchmark.RandomMatrix(rng, GemmSize * GemmSize);
        var b = GemmBenchmark.RandomMatrix(rng, GemmSize * GemmSize);
        var c = new float[GemmSize * GemmSize];

        // Warm-up: the given batches and at least a second, so that the JIT has recompiled the hot methods (tiered
        // compilation promotes a method after 30 calls, in the background) before anything is timed.
        var warmup = Stopwatch.StartNew();
        for (var r = 0; r < options.Warmup || warmup.Elapsed < MinimumWarmup; r++)
        {
            batch();
            EngineGemm.Multiply(Transpose.No, Transpose.No, GemmSize, GemmSize, GemmSize, 1f, a, GemmSize, b, GemmSize, 0f, c, GemmSize, threads);
        }

        var model = new List<double>(options.Repetitions);
        var gemm = new List<double>(options.Repetitions);
        for (var r = 0; r < options.Repetitions; r++)
        {
            var start = Stopwatch.GetTimestamp();
            batch();
            var modelSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            start = Stopwatch.GetTimestamp();
            EngineGemm.Multiply(Transpose.No, Transpose.No, GemmSize, GemmSize, GemmSize, 1f, a, GemmSize, b, GemmSize, 0f, c, GemmSize, threads);
            var gemmSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            model.Add(modelSeconds);
            gemm.Add(gemmSeconds);
        }

        return (BenchStatistics.Percentile(model, 0.5), BenchStatistics.Percentile(model, 0.1), BenchStatistics.Percentile(model, 0.9),
            2.0 * GemmSize * GemmSize * GemmSize / BenchStatistics.Percentile(gemm, 0.5) / 1e9);
    }

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
}
