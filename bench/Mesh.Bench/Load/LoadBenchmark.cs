using System.Diagnostics;
using System.Globalization;
using Mesh.Contracts;

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

    // A phase ends when the host is this quiet (in cores) or this long after its last request. Rank requests leave
    // work behind: impressions wait out the trainer's label window (5 s in appsettings.json) before it trains on them.
    private const double IdleCores = 0.05;
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(20);

    public static async Task<int> RunAsync(string[] args)
    {
        var (options, error) = LoadOptions.Parse(args);
        if (options is null)
        {
            await Console.Error.WriteLineAsync($"error: {error}\n\n{LoadOptions.Help}");
            return 2;
        }

        var hostPath = options.HostPath ?? StandaloneHost.FindDefaultPath();
        if (hostPath is null || !File.Exists(hostPath))
        {
            await Console.Error.WriteLineAsync(
                $"error: Mesh.Standalone.dll not found ({hostPath ?? "services/standalone/bin/Release/net10.0"}); bench/run.sh builds it, or pass --host.");
            return 2;
        }

        StandaloneHost? host = null;
        using var stop = new HostInterrupt(() => host?.Kill());

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "load", TimeProvider.System);
        output.WriteLine($"settings  concurrency {options.Concurrency}, warm-up {options.Warmup.TotalSeconds:0.#} s, duration {options.Duration.TotalSeconds:0.#} s per phase, " +
            $"candidates {string.Join(", ", options.Candidates)}, k {RequestPool.K}, budgetMs {RequestPool.BudgetMs}, seed {options.Seed}");

        try
        {
            host = StandaloneHost.Start(hostPath);
            output.WriteLine($"host      dotnet {Path.GetRelativePath(Environment.CurrentDirectory, hostPath)} (pid {host.ProcessId}) on {host.BaseAddress}; driver off, memory only");
            output.WriteLine();

            using var client = LoadRunner.CreateClient(host.BaseAddress, options.Concurrency);
            await host.WaitHealthyAsync(client, StartTimeout, stop.Token);

            var pools = options.Candidates.Select(c => RequestPool.Create(c, options.Seed)).ToArray();
            var phases = pools.SelectMany(pool => new[] { RankPath, BarePath }.Select(path => (Pool: pool, Path: path))).ToArray();
            foreach (var (pool, path) in phases)
            {
                var problem = await LoadRunner.CheckAsync(client, path, pool, stop.Token);
                if (problem is not null)
                {
                    await Console.Error.WriteLineAsync($"error: {problem}");
                    host.WriteTail(Console.Error);
                    return 1;
                }
            }

            // One pass over every phase before any is measured: otherwise the first phase alone pays for JIT tiering
            // of the code all phases share, and the first ratio is off by a factor (seen at 1 s warm-ups).
            if (options.Warmup > TimeSpan.Zero)
            {
                await Console.Error.WriteLineAsync($"warming up every phase for {options.Warmup.TotalSeconds:0.#} s");
                foreach (var (pool, path) in phases)
                {
                    await LoadRunner.RunAsync(client, path, pool, options.Concurrency, options.Warmup, record: false, stop.Token);
                }

                await host.SettleAsync(IdleCores, SettleTimeout, stop.Token);
            }

            var results = new List<PhaseResult>();
            foreach (var (pool, path) in phases)
            {
                await Console.Error.WriteLineAsync(
                    $"{path} with {pool.Candidates} candidates ({pool.AverageBytes / 1024.0:F1} KiB bodies): warm-up {options.Warmup.TotalSeconds:0.#} s, measuring {options.Duration.TotalSeconds:0.#} s");
                if (options.Warmup > TimeSpan.Zero)
                {
                    await LoadRunner.RunAsync(client, path, pool, options.Concurrency, options.Warmup, record: false, stop.Token);
                }

                var (started, machine, own, cpu) = (Stopwatch.GetTimestamp(), MachineCpu.Busy(), Environment.CpuUsage.TotalTime, host.CpuTime);
                var result = await LoadRunner.RunAsync(client, path, pool, options.Concurrency, options.Duration, record: true, stop.Token);
                var measured = host.CpuTime;
                var settle = await host.SettleAsync(IdleCores, SettleTimeout, stop.Token);
                var hostCpu = host.CpuTime - cpu;
                var other = MachineCpu.Busy() - machine - (Environment.CpuUsage.TotalTime - own) - hostCpu;
                results.Add(result with
                {
                    HostCpu = hostCpu,
                    HostCpuTrailing = hostCpu - (measured - cpu),
                    OtherCores = other / Stopwatch.GetElapsedTime(started),
                    Settle = settle,
                });
                if (host.HasExited)
                {
                    await Console.Error.WriteLineAsync("error: the standalone host exited during the run.");
                    host.WriteTail(Console.Error);
                    return 1;
                }
            }

            WriteTable(output, results);
            WriteFigures(output, results, options.Candidates);
            if (host.OutputLines > 0)
            {
                output.WriteLine();
                host.WriteTail(output);
            }

            return results.All(r => r.Successes > 0) ? 0 : 1;
        }
        catch (OperationCanceledException) when (stop.IsInterrupted)
        {
            await Console.Error.WriteLineAsync("interrupted; no figures.");
            return 130;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            if (host is not null)
            {
                host.WriteTail(Console.Error);
            }

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

    private static void WriteTable(TextWriter output, IReadOnlyList<PhaseResult> results)
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
                : $"host still busy after {SettleTimeout.TotalSeconds:F0} s (its trailing work spills into the next phase)";
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

    private static void WriteFigures(TextWriter output, IReadOnlyList<PhaseResult> results, IReadOnlyList<int> candidateCounts)
    {
        foreach (var candidates in candidateCounts)
        {
            var rank = results.Single(r => r.Endpoint == RankPath && r.Candidates == candidates);
            var bare = results.Single(r => r.Endpoint == BarePath && r.Candidates == candidates);
            foreach (var (name, r) in new[] { ("rank", rank), ("bare", bare) })
            {
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_rps", r.RequestsPerSecond, "rps");
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_p50_ms", r.PercentileMs(50), "ms");
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_p90_ms", r.PercentileMs(90), "ms");
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_p99_ms", r.PercentileMs(99), "ms");
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_errors", r.Errors, "count");
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_host_cpu_ms_per_req", r.HostCpuMsPerRequest, "ms");
                BenchOutput.WriteFigure(output, $"{name}_{candidates}_other_cores", r.OtherCores ?? double.NaN, "cores");
            }

            BenchOutput.WriteFigure(output, $"rank_{candidates}_rps_vs_bare", rank.RequestsPerSecond / bare.RequestsPerSecond, "ratio");
            BenchOutput.WriteFigure(output, $"rank_{candidates}_p50_vs_bare", rank.PercentileMs(50) / bare.PercentileMs(50), "ratio");
            BenchOutput.WriteFigure(output, $"rank_{candidates}_p99_vs_bare", rank.PercentileMs(99) / bare.PercentileMs(99), "ratio");
            BenchOutput.WriteFigure(output, $"rank_{candidates}_host_cpu_vs_bare", rank.HostCpuMsPerRequest / bare.HostCpuMsPerRequest, "ratio");
            BenchOutput.WriteFigure(output, $"rank_{candidates}_large_tier_share",
                rank.Successes == 0 ? double.NaN : (double)rank.Tiers.GetValueOrDefault(Tiers.Large) / rank.Successes, "ratio");
        }
    }
}
