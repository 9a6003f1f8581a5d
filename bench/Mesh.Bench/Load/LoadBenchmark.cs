using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Bench.Models;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Networks;

namespace Mesh.Bench.Load;

/// <summary>
/// Throughput and latency of <c>POST /v1/rank</c> on the standalone host, each against <c>POST /bench/bare-rank</c>
/// (same body read, parsed and validated; same reply shape; no ranking) measured in the same run on the same host.
/// The client shares the machine with the host, so absolute figures say as much about the machine as about the mesh;
/// the ratio to the bare endpoint is the figure to compare across runs.
/// </summary>
public static class LoadBenchmark
{
    public const string RankPath = "/v1/rank";
    public const string BarePath = "/bench/bare-rank";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    // A phase ends when the host is this quiet (in cores) or LoadOptions.Settle after its last request. Rank requests
    // leave work behind: impressions wait out the trainer's label window (5 s in appsettings.json) before it trains on them.
    private const double IdleCores = 0.05;

    /// <summary>One host's measurements: its setup and one result per phase.</summary>
    private sealed record HostRun(HostSetup Setup, IReadOnlyList<PhaseResult> Results);

    public static async Task<int> RunAsync(string[] args)
    {
        var (options, error) = LoadOptions.Parse(args);
        if (options is null)
        {
            await Console.Error.WriteLineAsync($"error: {error}\n\n{LoadOptions.Help}");
            return 2;
        }

        if (await StandaloneHost.ResolvePathAsync(options.HostPath) is not { } hostPath)
        {
            return 2;
        }

        StandaloneHost? host = null;
        using var stop = new HostInterrupt(() => host?.Kill());

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "load", TimeProvider.System);
        output.WriteLine($"settings  concurrency {options.Concurrency}, warm-up {options.Warmup.TotalSeconds:0.#} s, duration {options.Duration.TotalSeconds:0.#} s per phase, " +
            $"candidates {string.Join(", ", options.Candidates)}, k {RequestPool.K}, budgetMs {RequestPool.BudgetMs}, seed {options.Seed}, settle at most {options.Settle.TotalSeconds:0.#} s");
        output.WriteLine($"hosts     {string.Join("; ", options.Hosts.Select(h => $"{h.Name}: {h.Description}"))}; the first also measures the bare baseline");
        output.WriteLine();

        try
        {
            var pools = options.Candidates.Select(c => RequestPool.Create(c, options.Seed)).ToArray();
            var runs = new List<HostRun>();
            var gemm = new List<GemmSample>();
            foreach (var setup in options.Hosts)
            {
                gemm.Add(MeasureGemm(options.GemmRepetitions));
                host = StandaloneHost.Start(hostPath, settings: setup.Settings);
                output.WriteLine($"host {runs.Count + 1}/{options.Hosts.Count} {setup.Name}: {setup.Description}");
                output.WriteLine($"          dotnet {Path.GetRelativePath(Environment.CurrentDirectory, hostPath)} {string.Join(' ', setup.Settings)} (pid {host.ProcessId}) on {host.BaseAddress}; driver off, memory only");
                var phases = runs.Count == 0
                    ? pools.SelectMany(pool => new[] { (Pool: pool, Path: RankPath), (Pool: pool, Path: BarePath) }).ToArray()
                    : [.. pools.Where(p => options.ComparedCandidates.Contains(p.Candidates)).Select(pool => (Pool: pool, Path: RankPath))];
                var results = await MeasureHostAsync(host, setup, phases, options, stop.Token);
                if (results is null)
                {
                    return 1;
                }

                runs.Add(new HostRun(setup, results));
                WriteTable(output, results, options.Settle);
                if (host.OutputLines > 0)
                {
                    host.WriteTail(output);
                    output.WriteLine();
                }

                await host.DisposeAsync();
                host = null;
            }

            // The serving MFU's reference: the best 512³ product of the engine and ONNX Runtime on every core, measured in
            // this process before each host started and after the last, on the machine the ranker had (less the load
            // generator); the best of them, so that a measurement next to someone else's build does not flatter the MFU.
            gemm.Add(MeasureGemm(options.GemmRepetitions));
            var (engineGflops, ortGflops) = (gemm.Max(g => g.EngineGflops), gemm.Max(g => g.OrtGflops));
            var reference = GemmReference.Best(engineGflops, ortGflops);
            var gemmOther = gemm.Average(g => g.OtherCores);
            var threads = Environment.ProcessorCount;
            var model = RankingModel.CreateInitial();
            var (small, large) = (model.Tier(Tiers.Small).Cost, model.Tier(Tiers.Large).Cost);

            WriteServing(output, runs, reference, engineGflops, ortGflops, gemmOther, threads, gemm.Count, small, large);
            WriteFigures(output, runs, options.Candidates, reference, gemmOther, small, large);
            return runs.SelectMany(r => r.Results).All(r => r.Successes > 0) ? 0 : 1;
        }
        catch (OperationCanceledException) when (stop.IsInterrupted)
        {
            await Console.Error.WriteLineAsync("interrupted; no figures.");
            return 130;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException or KeyNotFoundException or JsonException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            host?.WriteTail(Console.Error);
            return 1;
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
    }

    /// <summary>Checks, warms and measures every phase on one host; null (after saying why) when the host misbehaved.</summary>
    private static async Task<IReadOnlyList<PhaseResult>?> MeasureHostAsync(
        StandaloneHost host, HostSetup setup, IReadOnlyList<(RequestPool Pool, string Path)> phases, LoadOptions options, CancellationToken cancellationToken)
    {
        using var client = LoadRunner.CreateClient(host.BaseAddress, options.Concurrency);
        await host.WaitHealthyAsync(client, StartTimeout, cancellationToken);
        var train = (await ReadStatsAsync(client, cancellationToken)).Train;
        if (train != setup.Trains)
        {
            await Console.Error.WriteLineAsync($"error: the {setup.Name} host reports trainer.train = {train?.ToString() ?? "nothing"} in /v1/stats, expected {setup.Trains}.");
            return null;
        }

        foreach (var (pool, path) in phases)
        {
            var problem = await LoadRunner.CheckAsync(client, path, pool, cancellationToken);
            if (problem is not null)
            {
                await Console.Error.WriteLineAsync($"error: {problem}");
                host.WriteTail(Console.Error);
                return null;
            }
        }

        // One pass over every phase before any is measured: otherwise the first phase alone pays for JIT tiering
        // of the code all phases share, and the first ratio is off by a factor (seen at 1 s warm-ups).
        if (options.Warmup > TimeSpan.Zero)
        {
            await Console.Error.WriteLineAsync($"{setup.Name}: warming up every phase for {options.Warmup.TotalSeconds:0.#} s");
            foreach (var (pool, path) in phases)
            {
                await LoadRunner.RunAsync(client, path, pool, options.Concurrency, options.Warmup, record: false, cancellationToken);
            }

            await host.SettleAsync(IdleCores, options.Settle, cancellationToken);
        }

        var results = new List<PhaseResult>();
        foreach (var (pool, path) in phases)
        {
            await Console.Error.WriteLineAsync(
                $"{setup.Name}: {path} with {pool.Candidates} candidates ({pool.AverageBytes / 1024.0:F1} KiB bodies): warm-up {options.Warmup.TotalSeconds:0.#} s, measuring {options.Duration.TotalSeconds:0.#} s");
            if (options.Warmup > TimeSpan.Zero)
            {
                await LoadRunner.RunAsync(client, path, pool, options.Concurrency, options.Warmup, record: false, cancellationToken);
            }

            var before = await ReadStatsAsync(client, cancellationToken);
            var (started, machine, own, cpu) = (Stopwatch.GetTimestamp(), MachineCpu.Busy(), Environment.CpuUsage.TotalTime, host.CpuTime);
            var result = await LoadRunner.RunAsync(client, path, pool, options.Concurrency, options.Duration, record: true, cancellationToken);
            var measured = host.CpuTime;
            var after = await ReadStatsAsync(client, cancellationToken);
            var settle = await host.SettleAsync(IdleCores, options.Settle, cancellationToken);
            var hostCpu = host.CpuTime - cpu;
            var other = MachineCpu.Busy() - machine - (Environment.CpuUsage.TotalTime - own) - hostCpu;
            var settled = await ReadStatsAsync(client, cancellationToken);
            results.Add(result with
            {
                HostCpu = hostCpu,
                HostCpuTrailing = hostCpu - (measured - cpu),
                OtherCores = other / Stopwatch.GetElapsedTime(started),
                Settle = settle,
                Ranker = path == RankPath ? after.Ranker.Since(before.Ranker) : null,
                TrainedExamples = settled.TrainedExamples - before.TrainedExamples,
            });
            if (host.HasExited)
            {
                await Console.Error.WriteLineAsync("error: the standalone host exited during the run.");
                host.WriteTail(Console.Error);
                return null;
            }
        }

        return results;
    }

    private readonly record struct GemmSample(double EngineGflops, double OrtGflops, double OtherCores);

    private static GemmSample MeasureGemm(int repetitions)
    {
        var threads = Environment.ProcessorCount;
        Console.Error.WriteLine($"GEMM reference: 512³ engine GEMM and ONNX Runtime MatMul on {threads} threads, {repetitions} repetitions");
        var (started, machine, own) = (Stopwatch.GetTimestamp(), MachineCpu.Busy(), Environment.CpuUsage.TotalTime);
        var (engine, ort) = ThroughputBenchmark.MeasureGemmRates(threads, repetitions);
        var other = (MachineCpu.Busy() - machine - (Environment.CpuUsage.TotalTime - own)) / Stopwatch.GetElapsedTime(started) ?? double.NaN;
        return new(engine, ort, other);
    }

    private static async Task<HostStats> ReadStatsAsync(HttpClient client, CancellationToken cancellationToken) =>
        HostStats.FromStats(await client.GetFromJsonAsync<JsonElement>("v1/stats", cancellationToken));

    private static void WriteTable(TextWriter output, IReadOnlyList<PhaseResult> results, TimeSpan settleTimeout)
    {
        output.WriteLine($"{"endpoint",-18}{"candidates",11}{"requests/s",12}{"p50 ms",9}{"p90 ms",9}{"p99 ms",9}{"errors",8}{"host cpu ms/req",17}   tiers");
        foreach (var r in results)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Endpoint,-18}{r.Candidates,11}{r.RequestsPerSecond,12:F1}{r.PercentileMs(50),9:F2}{r.PercentileMs(90),9:F2}{r.PercentileMs(99),9:F2}{r.Errors,8}{r.HostCpuMsPerRequest,17:F3}   {r.TierMix()}"));
        }

        output.WriteLine();
        output.WriteLine("server-reported means of /v1/rank replies (timings.*, ms):");
        foreach (var r in results.Where(r => r.Endpoint == RankPath))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Candidates,4} candidates: embedding {r.MeanEmbeddingMs:F2}, rank {r.MeanRankMs:F2}, total {r.MeanTotalMs:F2}; client-observed mean {r.MeanMs:F2}; " +
                $"precomputed hits {r.MeanPrecomputedHits:F1}/reply; model v{r.ModelVersions.Min}..v{r.ModelVersions.Max}"));
        }

        output.WriteLine("after the last request of each phase:");
        foreach (var r in results)
        {
            var settled = r.Settle is { } settle
                ? string.Create(CultureInfo.InvariantCulture, $"host quiet after {settle.TotalSeconds:F1} s")
                : $"host still busy after {settleTimeout.TotalSeconds:F0} s (its trailing work spills into the next phase)";
            var other = r.OtherCores is { } cores ? string.Create(CultureInfo.InvariantCulture, $"; other processes busy {cores:F2} cores") : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Endpoint,-17}{r.Candidates,5}: {settled}, {100 * r.HostCpuTrailing / r.HostCpu:F0}% of its CPU came after the last request{other}"));
        }

        foreach (var r in results.Where(r => r.FirstError is not null))
        {
            output.WriteLine($"first error on {r.Endpoint} with {r.Candidates} candidates: {r.FirstError}");
        }

        output.WriteLine();
    }

    private static void WriteServing(
        TextWriter output, IReadOnlyList<HostRun> runs, GemmReference reference, double engineGflops, double ortGflops, double otherCores, int threads, int samples, NetworkCost small, NetworkCost large)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"serving MFU reference: {(reference.Source == GemmReference.Engine ? "the engine's GEMM" : "ONNX Runtime's MatMul")}, {reference.Gflops:F1} GFLOP/s at 512³ on {threads} threads, the best of {samples} measurements " +
            $"(best engine {engineGflops:F1}, best ORT {ortGflops:F1}; other processes busy {otherCores:F2} cores on average); tiers' cost: small {small.FlopsPerCandidate / 1e6:F3} MFLOP/candidate, large {large.FlopsPerCandidate / 1e6:F3}"));
        output.WriteLine($"{"host",-11}{"candidates",11}{"requests/s",12}{"p99 ms",9}{"served GFLOP/s",16}{"MFU",7}{"calls/run",11}{"cand/run",10}{"trained",10}");
        foreach (var run in runs)
        {
            foreach (var r in run.Results.Where(r => r.Ranker is not null))
            {
                var gflops = ServingFlops.Gflops(ServingFlops.Flops(r.Ranker!.Value, small, large, r.LargeTierShare), r.Elapsed);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{run.Setup.Name,-11}{r.Candidates,11}{r.RequestsPerSecond,12:F1}{r.PercentileMs(99),9:F2}{gflops,16:F2}{ServingFlops.Mfu(gflops, reference.Gflops),7:F3}{r.Ranker.Value.CallsPerBatch,11:F2}{r.Ranker.Value.CandidatesPerBatch,10:F0}{r.TrainedExamples,10}"));
            }
        }

        output.WriteLine("served: the ranker's candidates scored per tier over the measurement times each tier's Cost (per candidate, and per stage),");
        output.WriteLine("  over the measured seconds; calls/run: score stages per ONNX Runtime run (1: unbatched); trained: examples the trainer");
        output.WriteLine("  trained on from the measurement's start until the host was quiet.");
        output.WriteLine();
    }

    private static void WriteFigures(
        TextWriter output, IReadOnlyList<HostRun> runs, IReadOnlyList<int> candidateCounts, GemmReference reference, double gemmOtherCores, NetworkCost small, NetworkCost large)
    {
        var headline = runs[0];
        foreach (var candidates in candidateCounts)
        {
            var rank = headline.Results.Single(r => r.Endpoint == RankPath && r.Candidates == candidates);
            var bare = headline.Results.Single(r => r.Endpoint == BarePath && r.Candidates == candidates);
            WritePhase(output, $"rank_{candidates}", rank);
            WritePhase(output, $"bare_{candidates}", bare);
            WriteRatios(output, headline.Setup, candidates, rank, bare);
            WriteRanker(output, headline.Setup, candidates, rank, reference, small, large);
            foreach (var run in runs.Skip(1))
            {
                if (run.Results.SingleOrDefault(r => r.Endpoint == RankPath && r.Candidates == candidates) is not { } other)
                {
                    continue;
                }

                WritePhase(output, $"rank_{candidates}_{run.Setup.Key}", other);
                WriteRatios(output, run.Setup, candidates, other, bare);
                WriteRanker(output, run.Setup, candidates, other, reference, small, large);
                if (run.Setup == HostSetup.Unbatched)
                {
                    BenchOutput.WriteFigure(output, $"rank_{candidates}_rps_batching_vs_unbatched", rank.RequestsPerSecond / other.RequestsPerSecond, "ratio");
                    BenchOutput.WriteFigure(output, $"rank_{candidates}_p99_batching_vs_unbatched", rank.PercentileMs(99) / other.PercentileMs(99), "ratio");
                    BenchOutput.WriteFigure(output, $"rank_{candidates}_host_cpu_batching_vs_unbatched", rank.HostCpuMsPerRequest / other.HostCpuMsPerRequest, "ratio");
                }

                // The cost of telemetry: the headline host (telemetry on) against the same host without it.
                if (run.Setup == HostSetup.NoTelemetry)
                {
                    BenchOutput.WriteFigure(output, $"rank_{candidates}_rps_telemetry_vs_off", rank.RequestsPerSecond / other.RequestsPerSecond, "ratio");
                    BenchOutput.WriteFigure(output, $"rank_{candidates}_p99_telemetry_vs_off", rank.PercentileMs(99) / other.PercentileMs(99), "ratio");
                    BenchOutput.WriteFigure(output, $"rank_{candidates}_host_cpu_telemetry_vs_off", rank.HostCpuMsPerRequest / other.HostCpuMsPerRequest, "ratio");
                }
            }
        }

        BenchOutput.WriteFigure(output, "load_gemm_reference_gflops", reference.Gflops, "GFLOP/s");
        BenchOutput.WriteFigure(output, "load_gemm_other_cores", gemmOtherCores, "cores");
    }

    private static void WritePhase(TextWriter output, string name, PhaseResult r)
    {
        BenchOutput.WriteFigure(output, $"{name}_rps", r.RequestsPerSecond, "rps");
        BenchOutput.WriteFigure(output, $"{name}_p50_ms", r.PercentileMs(50), "ms");
        BenchOutput.WriteFigure(output, $"{name}_p90_ms", r.PercentileMs(90), "ms");
        BenchOutput.WriteFigure(output, $"{name}_p99_ms", r.PercentileMs(99), "ms");
        BenchOutput.WriteFigure(output, $"{name}_errors", r.Errors, "count");
        BenchOutput.WriteFigure(output, $"{name}_host_cpu_ms_per_req", r.HostCpuMsPerRequest, "ms");
        BenchOutput.WriteFigure(output, $"{name}_other_cores", r.OtherCores ?? double.NaN, "cores");
    }

    private static void WriteRatios(TextWriter output, HostSetup setup, int candidates, PhaseResult rank, PhaseResult bare)
    {
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "rps_vs_bare"), rank.RequestsPerSecond / bare.RequestsPerSecond, "ratio");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "p50_vs_bare"), rank.PercentileMs(50) / bare.PercentileMs(50), "ratio");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "p99_vs_bare"), rank.PercentileMs(99) / bare.PercentileMs(99), "ratio");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "host_cpu_vs_bare"), rank.HostCpuMsPerRequest / bare.HostCpuMsPerRequest, "ratio");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "large_tier_share"), rank.LargeTierShare, "ratio");
    }

    private static void WriteRanker(TextWriter output, HostSetup setup, int candidates, PhaseResult rank, GemmReference reference, NetworkCost small, NetworkCost large)
    {
        var counts = rank.Ranker ?? default;
        var gflops = ServingFlops.Gflops(ServingFlops.Flops(counts, small, large, rank.LargeTierShare), rank.Elapsed);
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "serving_gflops"), gflops, "GFLOP/s");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "serving_mfu"), ServingFlops.Mfu(gflops, reference.Gflops), "ratio");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "calls_per_run"), counts.CallsPerBatch, "count");
        BenchOutput.WriteFigure(output, setup.Figure(candidates, "trained_examples"), rank.TrainedExamples, "count");
    }
}
