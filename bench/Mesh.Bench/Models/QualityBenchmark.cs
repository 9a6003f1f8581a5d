using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Mesh.Learning;
using Mesh.Learning.Metrics;
using Mesh.Learning.Optim;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Models.Training;
using EngineGemm = Mesh.Learning.Kernels.Gemm;

namespace Mesh.Bench.Models;

/// <summary>
/// Model quality on the synthetic ad world: one pass in time order over an <see cref="ImpressionStream"/>, scoring every
/// batch before training on it (progressive validation). The mesh's tiers (<c>small</c>, <c>large</c>) are what the
/// trainer publishes: the mesh's model (user tower and both tiers) trained together through the trainer's own step
/// (<see cref="RankingLearner"/>: the weight average, cold-start calibration), scored by its published weights. The other
/// models (and, with <see cref="QualityOptions.Alone"/>, each tier by itself) train alone with their own user tower.
/// Against two references on the same labels: the base rate (the mean of the labels seen so far) and the optimum (the
/// planted click probabilities). Then every trained model on held-out requests, and DHEN large's early exit at several
/// thresholds.
/// </summary>
public static class QualityBenchmark
{
    /// <summary>Key of the optimum and base-rate rows and figures.</summary>
    private const string Optimal = "optimal";
    private const string BaseRate = "base";

    public static int Run(string[] args)
    {
        var (options, error) = QualityOptions.Parse(args);
        if (options is null)
        {
            Console.Error.WriteLine($"error: {error}\n\n{QualityOptions.Help}");
            return 2;
        }

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "quality", TimeProvider.System);
        var result = Measure(options, Console.Error);
        BenchOutput.WriteLoad(output, "load at the end: ");
        Write(output, options, result);
        return 0;
    }

    /// <summary>Everything the benchmark measured.</summary>
    public sealed record QualityResult(
        ImpressionStream Stream,
        TimeSpan Generation,
        QualityTrack Base,
        QualityTrack Optimum,
        IReadOnlyList<TrainedModel> Models,
        BinaryMetrics HoldoutOptimum,
        double HoldoutBaseRate,
        IReadOnlyList<ExitRow> EarlyExit,
        ExitReference? ExitReference);

    /// <summary>One model after its pass: its progressive metrics, its held-out metrics and its training time.</summary>
    public sealed record TrainedModel(BenchModel Model, UserTower Tower, RankingNetwork Network, QualityTrack Track, BinaryMetrics Holdout, TimeSpan Training);

    /// <summary>
    /// Early exit at one threshold on the held-out requests: NE of the scores served, candidate-layers and FLOPs as shares
    /// of no exit, the top-k's overlap with no exit's, the planted mean p of the top k, and scoring time against no exit.
    /// </summary>
    public sealed record ExitRow(double Threshold, double Ne, double Auc, double LayerShare, double FlopShare, double TopKAgreement, double TopKCtr, double TimeShare);

    /// <summary>Mean planted p of k random candidates and of the true top k: the floor and the ceiling of <see cref="ExitRow.TopKCtr"/>.</summary>
    public sealed record ExitReference(double RandomCtr, double OracleCtr);

    public static QualityResult Measure(QualityOptions options, TextWriter progress)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(progress);
        var clock = Stopwatch.StartNew();
        var stream = ImpressionStream.Generate(new ImpressionStreamOptions
        {
            Seed = options.Seed,
            Impressions = options.Impressions,
            HoldoutRequests = options.HoldoutRequests,
        });
        var batches = Batches(stream.Training, options.BatchRequests);
        var generation = clock.Elapsed;
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quality: {stream.Impressions} impressions in {stream.Training.Count} requests, {stream.Holdout.Count} held-out requests, generated and encoded in {generation.TotalSeconds:F1} s"));

        var (baseTrack, optimumTrack) = References(stream, batches);
        var models = TrainAll(options, stream, batches, progress);

        // Held out: every candidate of the requests after the stream. The base rate is the stream's final mean label.
        var holdout = Batches(stream.Holdout, options.BatchRequests);
        var holdoutOptimum = new BinaryMetrics();
        foreach (var b in holdout)
        {
            holdoutOptimum.Add(b.Probabilities, b.Batch.Labels);
        }

        var withHoldout = models.Select(m => m with { Holdout = Evaluate(m, holdout) }).ToList();
        var large = withHoldout.FirstOrDefault(m => m.Network is Dhen { Depth: > 1 });
        var (exits, reference) = large is null || holdout.Count == 0
            ? ([], null)
            : EarlyExit(large, holdout, options.ExitKeep, options.Thresholds);
        return new QualityResult(stream, generation, baseTrack, optimumTrack, withHoldout, holdoutOptimum, baseTrack.Whole.BaseRate, exits, reference);
    }

    /// <summary>
    /// A training step's worth of requests, encoded once and shared by every model: the batch (with labels), the stream
    /// position of its first impression, the planted p and the user-exposure segment of each impression.
    /// </summary>
    public sealed record StreamBatch(RankingBatch Batch, long First, float[] Probabilities, byte[] Segments);

    /// <summary>Consecutive <paramref name="batchRequests"/> requests each; exposure counts from the start of <paramref name="requests"/>.</summary>
    public static IReadOnlyList<StreamBatch> Batches(IReadOnlyList<StreamRequest> requests, int batchRequests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var batches = new List<StreamBatch>((requests.Count + batchRequests - 1) / batchRequests);
        var shown = new Dictionary<string, long>(StringComparer.Ordinal);
        long first = 0;
        for (var start = 0; start < requests.Count; start += batchRequests)
        {
            var slice = requests.Skip(start).Take(batchRequests).ToList();
            var labels = slice.SelectMany(r => r.Labels).ToArray();
            var probabilities = slice.SelectMany(r => r.Probabilities.Select(p => (float)p)).ToArray();
            var segments = new List<byte>(labels.Length);
            foreach (var r in slice)
            {
                var before = shown.GetValueOrDefault(r.Input.UserId);
                segments.AddRange(Enumerable.Repeat(QualityTrack.Segment(before), r.Labels.Length));
                shown[r.Input.UserId] = before + r.Labels.Length;
            }

            batches.Add(new StreamBatch(RankingBatch.Create([.. slice.Select(r => r.Input)], labels), first, probabilities, [.. segments]));
            first += labels.Length;
        }

        return batches;
    }

    // The base rate predicts the mean of the labels before the batch (the prior before any); the optimum, the planted p.
    private static (QualityTrack Base, QualityTrack Optimum) References(ImpressionStream stream, IReadOnlyList<StreamBatch> batches)
    {
        var baseTrack = new QualityTrack(stream.Impressions);
        var optimum = new QualityTrack(stream.Impressions);
        long seen = 0;
        double clicks = 0;
        foreach (var b in batches)
        {
            var rate = seen == 0 ? (float)Priors.ClickRate : (float)(clicks / seen);
            var predictions = new float[b.Batch.Candidates];
            Array.Fill(predictions, rate);
            baseTrack.Add(predictions, b.Batch.Labels, b.First, b.Segments);
            optimum.Add(b.Probabilities, b.Batch.Labels, b.First, b.Segments);
            seen += b.Batch.Candidates;
            foreach (var label in b.Batch.Labels)
            {
                clicks += label;
            }
        }

        return (baseTrack, optimum);
    }

    /// <summary>
    /// Labelled examples the trainer calibrates before (<see cref="ColdStartCalibration"/>): until its first publish,
    /// which by the trainer's default <c>FirstPublishExamples</c> comes after 400.
    /// </summary>
    public const int ColdStartExamples = 400;

    /// <summary>The mesh's tiers as the trainer publishes them: keys <c>small</c> and <c>large</c>.</summary>
    private static readonly string[] MeshTiers = [Mesh.Contracts.Tiers.Small, Mesh.Contracts.Tiers.Large];

    /// <summary>One training pass to run on a thread of its own; <see cref="Cost"/> orders them, costliest first.</summary>
    private sealed record Job(long Cost, Func<List<TrainedModel>> Run);

    // One job per thread, at most one thread per core, each GEMM on its own thread: small products scale poorly over
    // threads, so whole models side by side finish sooner. The costliest start first. Results do not depend on the
    // scheduling: every job's arithmetic runs on one thread, in the stream's order.
    private static List<TrainedModel> TrainAll(QualityOptions options, ImpressionStream stream, IReadOnlyList<StreamBatch> batches, TextWriter progress)
    {
        var previousThreads = EngineGemm.MaxThreads;
        EngineGemm.MaxThreads = 1;
        try
        {
            var mesh = options.Models.Where(m => MeshTiers.Contains(m.Key)).ToList();
            var alone = options.Models.Where(m => !MeshTiers.Contains(m.Key))
                .Concat(options.Alone ? mesh.Select(Alone) : [])
                .ToList();
            var jobs = alone.Select(m => new Job(m.Create(new Random(0)).Cost.FlopsPerCandidate, () => Train(m, options, stream.Impressions, batches, progress))).ToList();
            if (mesh.Count > 0)
            {
                jobs.Add(new Job(BenchModels.Small.Create(new Random(0)).Cost.FlopsPerCandidate + BenchModels.Large.Create(new Random(0)).Cost.FlopsPerCandidate,
                    () => TrainMesh(mesh, options, stream.Impressions, batches, progress)));
            }

            var queue = new ConcurrentQueue<Job>(jobs.OrderByDescending(j => j.Cost));
            var results = new ConcurrentDictionary<string, TrainedModel>();
            var workers = Enumerable.Range(0, Math.Min(Environment.ProcessorCount, jobs.Count)).Select(_ => Task.Factory.StartNew(() =>
            {
                while (queue.TryDequeue(out var job))
                {
                    foreach (var trained in job.Run())
                    {
                        results[trained.Model.Key] = trained;
                    }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            Task.WaitAll(workers);

            // The catalogue's order, the tiers trained alone after it; each model followed by its average when scored.
            return [.. options.Models.Concat(options.Alone ? mesh.Select(Alone) : [])
                .SelectMany(m => results.TryGetValue(Averaged(m).Key, out var average) ? [results[m.Key], average] : new[] { results[m.Key] })];
        }
        finally
        {
            EngineGemm.MaxThreads = previousThreads;
        }
    }

    /// <summary>A mesh tier trained by itself with its own user tower, as a row of its own (<c>&lt;key&gt;_alone</c>).</summary>
    private static BenchModel Alone(BenchModel model) => model with { Key = $"{model.Key}_alone", Title = $"{model.Title}, alone" };

    /// <summary>
    /// The mesh's model (<see cref="RankingModel.CreateInitial"/>: user tower, DHEN small and large) trained one pass
    /// through the trainer's step (<see cref="RankingLearner"/>, the trainer's defaults: the library's learning rates,
    /// one GEMM thread, the weight average of <see cref="QualityOptions.PublishDecay"/>; cold-start calibration for the
    /// first <see cref="ColdStartExamples"/>), every batch scored by the published weights before the step. Returns the
    /// <paramref name="tiers"/> asked for, published weights and all.
    /// </summary>
    private static List<TrainedModel> TrainMesh(IReadOnlyList<BenchModel> tiers, QualityOptions options, long impressions, IReadOnlyList<StreamBatch> batches, TextWriter progress)
    {
        var learner = RankingLearner.Start(
            RankingModel.CreateInitial(options.Seed), RankingModel.CreateInitial(options.Seed), new TrainingSettings { GemmThreads = 1 }, options.PublishDecay);
        var calibration = new ColdStartCalibration();
        var tracks = learner.Tiers.Select(_ => new QualityTrack(impressions)).ToArray();
        var large = tracks[learner.Large];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < batches.Count; i++)
        {
            var b = batches[i];
            if (calibration.Examples < ColdStartExamples)
            {
                calibration.Calibrate(learner, b.Batch);
            }

            var step = learner.Step(b.Batch);
            calibration.Observe(b.Batch.Labels);
            for (var t = 0; t < tracks.Length; t++)
            {
                tracks[t].Add(step.Published[t], b.Batch.Labels, b.First, b.Segments);
            }

            if (i + 1 < batches.Count && (i + 1) * 4 / batches.Count != i * 4 / batches.Count)
            {
                lock (progress)
                {
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quality: mesh (tower, small, large) {100.0 * (i + 1) / batches.Count:F0}% in {clock.Elapsed.TotalSeconds:F0} s, progressive NE of large so far {large.Whole.NormalizedEntropy:F4}"));
                }
            }
        }

        lock (progress)
        {
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quality: mesh (tower, small, large) done in {clock.Elapsed.TotalSeconds:F0} s"));
        }

        var published = learner.Published;
        return [.. tiers.Select(m => new TrainedModel(
            m with { Title = $"{m.Title}, published" },
            published.UserTower,
            published.Tier(m.Key),
            tracks[learner.Tiers.ToList().IndexOf(m.Key)],
            new BinaryMetrics(),
            clock.Elapsed))];
    }

    /// <summary>The model's weight average, as a row of its own.</summary>
    private static BenchModel Averaged(BenchModel model) => model with { Key = $"{model.Key}_avg", Title = $"{model.Title}, averaged" };

    /// <summary>
    /// Trains the model one pass; with <see cref="QualityOptions.AverageDecay"/>, its weight average predicts each batch
    /// too, before the step, and is returned as a second model.
    /// </summary>
    private static List<TrainedModel> Train(BenchModel model, QualityOptions options, long impressions, IReadOnlyList<StreamBatch> batches, TextWriter progress)
    {
        var (tower, network) = Create(model, options.Seed);
        var trainer = new RankingTrainer(tower, [network], new TrainingSettings { GemmThreads = 1 });
        var track = new QualityTrack(impressions);
        var average = options.AverageDecay is { } decay ? new AveragedCopy(model, options.Seed, tower, network, decay, impressions) : null;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < batches.Count; i++)
        {
            var b = batches[i];
            average?.Score(b);
            var predictions = trainer.Step(b.Batch)[0];
            average?.Update();
            track.Add(predictions, b.Batch.Labels, b.First, b.Segments);
            if (i + 1 < batches.Count && (i + 1) * 4 / batches.Count != i * 4 / batches.Count)
            {
                lock (progress)
                {
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quality: {model.Key} {100.0 * (i + 1) / batches.Count:F0}% in {clock.Elapsed.TotalSeconds:F0} s, progressive NE so far {track.Whole.NormalizedEntropy:F4}"));
                }
            }
        }

        lock (progress)
        {
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"quality: {model.Key} done in {clock.Elapsed.TotalSeconds:F0} s"));
        }

        List<TrainedModel> trained = [new TrainedModel(model, tower, network, track, new BinaryMetrics(), clock.Elapsed)];
        if (average is not null)
        {
            trained.Add(new TrainedModel(Averaged(model), average.Tower, average.Network, average.Track, new BinaryMetrics(), clock.Elapsed));
        }

        return trained;
    }

    private static (UserTower Tower, RankingNetwork Network) Create(BenchModel model, int seed)
    {
        var rng = new Random(seed);
        var tower = new UserTower("user", rng);
        return (tower, model.Create(rng));
    }

    /// <summary>A second copy of the model's seeded architecture holding the running average of its weights, and its progressive metrics.</summary>
    private sealed class AveragedCopy
    {
        private readonly WeightAverage _average;
        private readonly Graph _scoring = new(training: false) { GemmThreads = 1 };

        public AveragedCopy(BenchModel model, int seed, UserTower tower, RankingNetwork network, float decay, long impressions)
        {
            (Tower, Network) = Create(model, seed);
            _average = new WeightAverage([.. tower.Parameters.Concat(network.Parameters)], [.. Tower.Parameters.Concat(Network.Parameters)], decay);
            Track = new QualityTrack(impressions);
        }

        public UserTower Tower { get; }
        public RankingNetwork Network { get; }
        public QualityTrack Track { get; }

        /// <summary>Predicts the batch with the average as it stands (before the model's step on it) and records it.</summary>
        public void Score(StreamBatch b)
        {
            _scoring.Reset();
            var scores = new float[b.Batch.Candidates];
            Network.Score(b.Batch, Tower.Forward(_scoring, b.Batch), scores, _scoring);
            Track.Add(scores, b.Batch.Labels, b.First, b.Segments);
        }

        /// <summary>Moves the average toward the weights after the model's step.</summary>
        public void Update() => _average.Update();
    }

    private static BinaryMetrics Evaluate(TrainedModel model, IReadOnlyList<StreamBatch> holdout)
    {
        var metrics = new BinaryMetrics();
        var g = new Graph(training: false) { GemmThreads = 0 };
        foreach (var b in holdout)
        {
            g.Reset();
            var scores = new float[b.Batch.Candidates];
            model.Network.Score(b.Batch, model.Tower.Forward(g, b.Batch), scores, g);
            metrics.Add(scores, b.Batch.Labels);
        }

        return metrics;
    }

    private static (IReadOnlyList<ExitRow> Rows, ExitReference Reference) EarlyExit(TrainedModel model, IReadOnlyList<StreamBatch> holdout, int keep, IReadOnlyList<double> thresholds)
    {
        var dhen = (Dhen)model.Network;
        var g = new Graph(training: false) { GemmThreads = 1 };
        var candidates = holdout.Sum(b => b.Batch.Candidates);
        var fieldFlops = dhen.Cost.FlopsPerCandidate - (dhen.Depth * dhen.LayerFlops);

        // Untimed first, so that the first threshold timed does not pay for compiling the exit path.
        foreach (var b in holdout.Take(4))
        {
            foreach (var threshold in new[] { 0.0, 1.0 })
            {
                g.Reset();
                dhen.ScoreWithEarlyExit(g, b.Batch, model.Tower.Forward(g, b.Batch), new EarlyExitRule(keep, threshold), new float[b.Batch.Candidates]);
            }
        }

        // Threshold 0 never exits: the full scores, the reference of the top-k agreement and of the time.
        var all = thresholds.Contains(0) ? thresholds : [0, .. thresholds];
        var full = new float[holdout.Count][];
        var rows = new List<ExitRow>();
        double fullTime = 0;
        foreach (var threshold in all)
        {
            var rule = new EarlyExitRule(keep, threshold);
            var scores = holdout.Select(b => new float[b.Batch.Candidates]).ToArray();
            long layers = 0;
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < holdout.Count; i++)
            {
                g.Reset();
                var user = model.Tower.Forward(g, holdout[i].Batch);
                layers += dhen.ScoreWithEarlyExit(g, holdout[i].Batch, user, rule, scores[i]);
            }

            var time = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (threshold == 0)
            {
                full = scores;
                fullTime = time;
            }

            var metrics = new BinaryMetrics();
            double agreement = 0, topCtr = 0;
            var requests = 0;
            for (var i = 0; i < holdout.Count; i++)
            {
                var b = holdout[i];
                metrics.Add(scores[i], b.Batch.Labels);
                foreach (var (from, count) in Requests(b.Batch))
                {
                    var mine = TopK(scores[i].AsSpan(from, count), keep);
                    var theirs = TopK(full[i].AsSpan(from, count), keep);
                    agreement += (double)mine.Intersect(theirs).Count() / mine.Length;
                    topCtr += mine.Average(j => b.Probabilities[from + j]);
                    requests++;
                }
            }

            var layerShare = (double)layers / ((long)candidates * dhen.Depth);
            var flopShare = ((double)fieldFlops * candidates + (double)layers * dhen.LayerFlops) / ((double)dhen.Cost.FlopsPerCandidate * candidates);
            rows.Add(new ExitRow(threshold, metrics.NormalizedEntropy, metrics.Auc, layerShare, flopShare, agreement / requests, topCtr / requests, time / fullTime));
        }

        double random = 0, oracle = 0;
        var total = 0;
        foreach (var b in holdout)
        {
            foreach (var (from, count) in Requests(b.Batch))
            {
                var p = b.Probabilities;
                random += p.AsSpan(from, count).ToArray().Average();
                oracle += TopK(p.AsSpan(from, count), keep).Average(j => p[from + j]);
                total++;
            }
        }

        return ([.. rows.Where(r => thresholds.Contains(r.Threshold))], new ExitReference(random / total, oracle / total));
    }

    // The candidates of each request of a batch as (first, count): a batch lists each request's candidates together.
    private static IEnumerable<(int From, int Count)> Requests(RankingBatch batch)
    {
        var from = 0;
        for (var i = 1; i <= batch.Candidates; i++)
        {
            if (i == batch.Candidates || batch.RequestOf[i] != batch.RequestOf[from])
            {
                yield return (from, i - from);
                from = i;
            }
        }
    }

    // Positions of the k highest scores (ties: the earlier position first).
    private static int[] TopK(ReadOnlySpan<float> scores, int k)
    {
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var keys = scores.ToArray();
        Array.Sort(order, (a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
        return order[..Math.Min(k, order.Length)];
    }

    /// <summary>The tables, then one BENCH line per figure.</summary>
    public static void Write(TextWriter output, QualityOptions options, QualityResult r)
    {
        var stream = r.Stream;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stream    world seed {options.Seed} (default WorldOptions), {stream.Training.Count} requests at {stream.Options.RequestsPerSecond:F0}/s simulated ({stream.Training.Count / stream.Options.RequestsPerSecond / 60:F1} min), {stream.Options.Served} of {stream.Options.Candidates} candidates served at random: {stream.Impressions} impressions, CTR {r.Base.Whole.BaseRate:P2}; generated in {r.Generation.TotalSeconds:F1} s"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"training  one pass in time order, {options.BatchRequests} requests ({options.BatchRequests * stream.Options.Served} impressions) per step; each batch scored before the step; models side by side, one thread each"));
        if (r.Models.Any(m => MeshTiers.Contains(m.Model.Key)))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"published small and large: the mesh's model (user tower, DHEN small and large) trained together through the trainer's step, scored by the weights it publishes (weight average, decay {options.PublishDecay}; cold-start calibration for the first {ColdStartExamples} examples)"));
        }

        output.WriteLine();

        var base2 = r.Base.SecondHalf.NormalizedEntropy;
        var opt2 = r.Optimum.SecondHalf.NormalizedEntropy;
        var baseAll = r.Base.Whole.NormalizedEntropy;
        var optAll = r.Optimum.Whole.NormalizedEntropy;
        output.WriteLine("progressive validation; headline: second half of the stream (after 50% of it for warm-up), 'all': the whole stream");
        output.WriteLine($"{"model",-40}{"NE",8}{"gap closed",12}{"AUC",8}{"calibration",13}{"NE all",9}{"gap all",9}{"train s",9}{"examples/s",12}");
        WriteRow(output, "base rate (running)", r.Base.SecondHalf, base2, opt2, r.Base.Whole, baseAll, optAll, null);
        foreach (var m in r.Models)
        {
            WriteRow(output, $"{m.Model.Title} ({m.Model.Key})", m.Track.SecondHalf, base2, opt2, m.Track.Whole, baseAll, optAll, m);
        }

        WriteRow(output, "optimum (planted p)", r.Optimum.SecondHalf, base2, opt2, r.Optimum.Whole, baseAll, optAll, null);
        output.WriteLine();

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"learning curve: progressive NE per window of {r.Base.Progressive.WindowSize} impressions"));
        var header = $"{"impressions",14}{"base",8}";
        foreach (var m in r.Models)
        {
            header += $"{m.Model.Key,16}";
        }

        output.WriteLine(header + $"{"optimum",9}");
        for (var w = 0; w < r.Base.Progressive.Windows.Count; w++)
        {
            var window = r.Base.Progressive.Windows[w];
            var line = string.Create(CultureInfo.InvariantCulture, $"{window.FirstExample + window.Examples,14}{window.NormalizedEntropy,8:F4}");
            foreach (var m in r.Models)
            {
                line += string.Create(CultureInfo.InvariantCulture, $"{m.Track.Progressive.Windows[w].NormalizedEntropy,16:F4}");
            }

            output.WriteLine(line + string.Create(CultureInfo.InvariantCulture, $"{r.Optimum.Progressive.Windows[w].NormalizedEntropy,9:F4}"));
        }

        output.WriteLine();
        output.WriteLine("gap closed by user exposure, second half: impressions the stream had shown the user before the request");
        header = $"{"user exposure",-16}{"share",8}{"CTR",8}";
        foreach (var m in r.Models)
        {
            header += $"{m.Model.Key,16}";
        }

        output.WriteLine(header + $"{"optimum NE",12}");
        for (var s = 0; s < QualityTrack.SegmentEdges.Count; s++)
        {
            var edges = QualityTrack.SegmentEdges;
            var range = s + 1 < edges.Count ? $"{edges[s]}-{edges[s + 1] - 1}" : $"{edges[s]}+";
            var baseSegment = r.Base.Segments[s];
            var optimumSegment = r.Optimum.Segments[s];
            var line = string.Create(CultureInfo.InvariantCulture, $"{range,-16}{(double)baseSegment.Examples / r.Base.SecondHalf.Examples,8:P1}{baseSegment.BaseRate,8:P2}");
            foreach (var m in r.Models)
            {
                line += string.Create(CultureInfo.InvariantCulture, $"{QualityTrack.GapClosed(baseSegment.NormalizedEntropy, m.Track.Segments[s].NormalizedEntropy, optimumSegment.NormalizedEntropy),16:F3}");
            }

            output.WriteLine(line + string.Create(CultureInfo.InvariantCulture, $"{optimumSegment.NormalizedEntropy,12:F4}"));
        }

        output.WriteLine();
        if (stream.Holdout.Count > 0)
        {
            var holdoutBase = HoldoutBase(r);
            var holdoutOpt = r.HoldoutOptimum.NormalizedEntropy;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"held out: the {stream.Holdout.Count} requests after the stream, all {stream.Options.Candidates} candidates each ({r.HoldoutOptimum.Examples} labels, CTR {r.HoldoutOptimum.BaseRate:P2}); no training; base rate = the stream's CTR"));
            output.WriteLine($"{"model",-22}{"NE",8}{"gap closed",12}{"AUC",8}{"calibration",13}");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"base rate (stream)",-22}{holdoutBase,8:F4}{0.0,12:F3}{0.5,8:F4}{r.HoldoutBaseRate / r.HoldoutOptimum.BaseRate,13:F3}"));
            foreach (var m in r.Models)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{m.Model.Key,-22}{m.Holdout.NormalizedEntropy,8:F4}{QualityTrack.GapClosed(holdoutBase, m.Holdout.NormalizedEntropy, holdoutOpt),12:F3}{m.Holdout.Auc,8:F4}{m.Holdout.Calibration,13:F3}"));
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"optimum (planted p)",-22}{holdoutOpt,8:F4}{1.0,12:F3}{r.HoldoutOptimum.Auc,8:F4}{r.HoldoutOptimum.Calibration,13:F3}"));
            output.WriteLine();
        }

        if (r.EarlyExit.Count > 0 && r.ExitReference is { } reference)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"early exit of DHEN large on the held-out requests: after each layer but the last, a candidate whose head predicts below threshold x the {Ordinal(options.ExitKeep)} best of its request exits with that score; k = {options.ExitKeep} of {stream.Options.Candidates}, one thread"));
            output.WriteLine($"{"threshold",10}{"NE",8}{"AUC",8}{"layers",9}{"FLOPs",8}{"top-k agree",13}{"top-k CTR",11}{"time",8}");
            foreach (var e in r.EarlyExit)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{e.Threshold,10:F2}{e.Ne,8:F4}{e.Auc,8:F4}{e.LayerShare,9:F3}{e.FlopShare,8:F3}{e.TopKAgreement,13:F3}{e.TopKCtr,11:P2}{e.TimeShare,8:F2}"));
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"layers, FLOPs, time: share of no exit (threshold 0); top-k CTR: mean planted p of the k kept (k random: {reference.RandomCtr:P2}, true top k: {reference.OracleCtr:P2})"));
            output.WriteLine();
        }

        WriteFigures(output, options, r);
    }

    private static void WriteRow(TextWriter output, string name, BinaryMetrics half, double baseNe, double optNe, BinaryMetrics whole, double baseAll, double optAll, TrainedModel? model)
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{name,-40}{half.NormalizedEntropy,8:F4}{QualityTrack.GapClosed(baseNe, half.NormalizedEntropy, optNe),12:F3}{half.Auc,8:F4}{half.Calibration,13:F3}{whole.NormalizedEntropy,9:F4}{QualityTrack.GapClosed(baseAll, whole.NormalizedEntropy, optAll),9:F3}");
        if (model is not null)
        {
            line += string.Create(CultureInfo.InvariantCulture, $"{model.Training.TotalSeconds,9:F0}{whole.Examples / model.Training.TotalSeconds,12:F0}");
        }

        output.WriteLine(line);
    }

    private static string Ordinal(int n)
    {
        var suffix = n % 100 is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" };
        return n.ToString(CultureInfo.InvariantCulture) + suffix;
    }

    private static double HoldoutBase(QualityResult r) =>
        BinaryMetrics.Entropy(r.HoldoutOptimum.BaseRate) is var entropy and > 0
            ? CrossEntropy(r.HoldoutOptimum.BaseRate, r.HoldoutBaseRate) / entropy
            : double.NaN;

    // Log loss of predicting q for labels of mean p.
    private static double CrossEntropy(double p, double q) => -((p * Math.Log(q)) + ((1 - p) * Math.Log(1 - q)));

    private static void WriteFigures(TextWriter output, QualityOptions options, QualityResult r)
    {
        var base2 = r.Base.SecondHalf.NormalizedEntropy;
        var opt2 = r.Optimum.SecondHalf.NormalizedEntropy;
        var baseAll = r.Base.Whole.NormalizedEntropy;
        var optAll = r.Optimum.Whole.NormalizedEntropy;
        BenchOutput.WriteFigure(output, "quality_impressions", r.Stream.Impressions, "count");
        BenchOutput.WriteFigure(output, "quality_ctr", r.Base.Whole.BaseRate, "ratio");
        BenchOutput.WriteFigure(output, $"quality_{BaseRate}_ne", base2, "ne");
        BenchOutput.WriteFigure(output, $"quality_{Optimal}_ne", opt2, "ne");
        BenchOutput.WriteFigure(output, $"quality_{Optimal}_auc", r.Optimum.SecondHalf.Auc, "auc");
        BenchOutput.WriteFigure(output, $"quality_{BaseRate}_ne_all", baseAll, "ne");
        BenchOutput.WriteFigure(output, $"quality_{Optimal}_ne_all", optAll, "ne");
        foreach (var m in r.Models)
        {
            var key = $"quality_{m.Model.Key}";
            BenchOutput.WriteFigure(output, $"{key}_ne", m.Track.SecondHalf.NormalizedEntropy, "ne");
            BenchOutput.WriteFigure(output, $"{key}_gap_closed", QualityTrack.GapClosed(base2, m.Track.SecondHalf.NormalizedEntropy, opt2), "ratio");
            BenchOutput.WriteFigure(output, $"{key}_auc", m.Track.SecondHalf.Auc, "auc");
            BenchOutput.WriteFigure(output, $"{key}_calibration", m.Track.SecondHalf.Calibration, "ratio");
            BenchOutput.WriteFigure(output, $"{key}_ne_all", m.Track.Whole.NormalizedEntropy, "ne");
            BenchOutput.WriteFigure(output, $"{key}_gap_closed_all", QualityTrack.GapClosed(baseAll, m.Track.Whole.NormalizedEntropy, optAll), "ratio");
            if (r.Stream.Holdout.Count > 0)
            {
                BenchOutput.WriteFigure(output, $"{key}_holdout_ne", m.Holdout.NormalizedEntropy, "ne");
                BenchOutput.WriteFigure(output, $"{key}_holdout_gap_closed", QualityTrack.GapClosed(HoldoutBase(r), m.Holdout.NormalizedEntropy, r.HoldoutOptimum.NormalizedEntropy), "ratio");
                BenchOutput.WriteFigure(output, $"{key}_holdout_calibration", m.Holdout.Calibration, "ratio");
            }

            for (var s = 0; s < QualityTrack.SegmentEdges.Count; s++)
            {
                BenchOutput.WriteFigure(output, string.Create(CultureInfo.InvariantCulture, $"{key}_gap_closed_user_{QualityTrack.SegmentEdges[s]}"),
                    QualityTrack.GapClosed(r.Base.Segments[s].NormalizedEntropy, m.Track.Segments[s].NormalizedEntropy, r.Optimum.Segments[s].NormalizedEntropy), "ratio");
            }

            BenchOutput.WriteFigure(output, $"{key}_train_examples_per_s", m.Track.Whole.Examples / m.Training.TotalSeconds, "examples/s");
        }

        if (r.Stream.Holdout.Count > 0)
        {
            BenchOutput.WriteFigure(output, $"quality_{Optimal}_holdout_ne", r.HoldoutOptimum.NormalizedEntropy, "ne");
        }

        foreach (var e in r.EarlyExit)
        {
            var key = string.Create(CultureInfo.InvariantCulture, $"quality_exit_k{options.ExitKeep}_t{(int)Math.Round(e.Threshold * 100):D3}");
            BenchOutput.WriteFigure(output, $"{key}_ne", e.Ne, "ne");
            BenchOutput.WriteFigure(output, $"{key}_layers", e.LayerShare, "ratio");
            BenchOutput.WriteFigure(output, $"{key}_flops", e.FlopShare, "ratio");
            BenchOutput.WriteFigure(output, $"{key}_topk_agreement", e.TopKAgreement, "ratio");
            BenchOutput.WriteFigure(output, $"{key}_topk_ctr", e.TopKCtr, "ratio");
            BenchOutput.WriteFigure(output, $"{key}_time", e.TimeShare, "ratio");
        }

        if (r.ExitReference is { } reference)
        {
            BenchOutput.WriteFigure(output, $"quality_exit_k{options.ExitKeep}_random_ctr", reference.RandomCtr, "ratio");
            BenchOutput.WriteFigure(output, $"quality_exit_k{options.ExitKeep}_oracle_ctr", reference.OracleCtr, "ratio");
        }
    }
}
