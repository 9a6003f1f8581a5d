using System.Diagnostics;
using System.Globalization;
using System.Net;
using Mesh.Contracts;

namespace Mesh.Bench.Load;

/// <summary>
/// Throughput and latency of <c>POST /v1/events</c> (validated, published as <c>UserActed</c>, answered 202) on the
/// standalone host, per mode: a host with nothing persisted (<c>memory</c>, the baseline) and one with a fresh data
/// folder (<c>durable</c>), each its own process, all started together and measured in turn, in rounds that alternate
/// the order. What a 202 costs when it means "on disk" is the ratio of the two; absolute figures depend on the (shared)
/// machine.
/// </summary>
public static class EventsBenchmark
{
    public const string EventsPath = "/v1/events";

    /// <summary>Distinct bodies, enough that consecutive requests differ in user and item.</summary>
    public const int PoolSize = 256;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private const double IdleCores = 0.05;
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(20);
    private static readonly UserActionKind[] Kinds = [UserActionKind.View, UserActionKind.Engage, UserActionKind.Search];

    public static async Task<int> RunAsync(string[] args)
    {
        var (options, error) = EventsOptions.Parse(args);
        if (options is null)
        {
            await Console.Error.WriteLineAsync($"error: {error}\n\n{EventsOptions.Help}");
            return 2;
        }

        if (await StandaloneHost.ResolvePathAsync(options.HostPath) is not { } hostPath)
        {
            return 2;
        }

        var hosts = new List<(string Mode, StandaloneHost Host, string? DataDirectory)>();
        using var stop = new HostInterrupt(() =>
        {
            foreach (var (_, h, _) in hosts.ToArray())
            {
                h.Kill();
            }
        });

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "events", TimeProvider.System);
        output.WriteLine($"settings  concurrency {options.Concurrency}, warm-up {options.Warmup.TotalSeconds:0.#} s, {options.Rounds} round(s) of {options.Duration.TotalSeconds:0.#} s per host, " +
            $"modes {string.Join(", ", options.Modes)}, seed {options.Seed}");
        output.WriteLine($"host      dotnet {Path.GetRelativePath(Environment.CurrentDirectory, hostPath)}, driver off, one process per mode");
        output.WriteLine();

        var bodies = CreateBodies(options.Seed);
        try
        {
            // Every mode's host runs from the start; only the one being measured gets traffic, the others idle
            // (< 0.05 cores). Rounds alternate the order (ABBA), so a change in the machine's load hits both alike.
            foreach (var mode in options.Modes)
            {
                var dataDirectory = mode == "memory" ? null : Directory.CreateTempSubdirectory("mesh-bench-events-").FullName;
                hosts.Add((mode, StandaloneHost.Start(hostPath, dataDirectory, mode == "durable-batch1" ? ["--EmbeddedRuntime:WriteBatchSize=1"] : null), dataDirectory));
            }

            var clients = new Dictionary<string, HttpClient>(StringComparer.Ordinal);
            foreach (var (mode, h, _) in hosts)
            {
                var client = clients[mode] = LoadRunner.CreateClient(h.BaseAddress, options.Concurrency);
                await h.WaitHealthyAsync(client, StartTimeout, stop.Token);
                using var check = await client.PostAsync(EventsPath, LoadRunner.Json(bodies[0]), stop.Token);
                if (check.StatusCode != HttpStatusCode.Accepted)
                {
                    await Console.Error.WriteLineAsync($"error: {mode}: POST {EventsPath} answered {(int)check.StatusCode}: {await check.Content.ReadAsStringAsync(stop.Token)}");
                    h.WriteTail(Console.Error);
                    return 1;
                }
            }

            if (options.Warmup > TimeSpan.Zero)
            {
                foreach (var (mode, h, _) in hosts)
                {
                    await Console.Error.WriteLineAsync($"{mode}: warm-up {options.Warmup.TotalSeconds:0.#} s");
                    await RunAsync(clients[mode], bodies, options.Concurrency, options.Warmup, record: false, stop.Token);
                    await h.SettleAsync(IdleCores, SettleTimeout, stop.Token);
                }
            }

            var measured = hosts.ToDictionary(h => h.Mode, _ => new List<EventsPhase>(), StringComparer.Ordinal);
            for (var round = 0; round < options.Rounds; round++)
            {
                var order = round % 2 == 0 ? hosts : Enumerable.Reverse(hosts).ToList();
                foreach (var (mode, h, _) in order)
                {
                    await Console.Error.WriteLineAsync($"round {round + 1}/{options.Rounds}, {mode}: measuring {options.Duration.TotalSeconds:0.#} s");
                    var phase = await MeasureAsync(h, [.. hosts.Select(x => x.Host)], clients[mode], mode, bodies, options, stop.Token);
                    if (hosts.FirstOrDefault(x => x.Host.HasExited) is { Host: not null } exited)
                    {
                        await Console.Error.WriteLineAsync($"error: the {exited.Mode} host exited during the run.");
                        exited.Host.WriteTail(Console.Error);
                        return 1;
                    }

                    measured[mode].Add(phase);
                }
            }

            var results = hosts.Select(h => EventsPhase.Merge(measured[h.Mode]) with { DatabaseBytes = DatabaseBytes(h.DataDirectory) }).ToList();
            WriteTable(output, results);
            WriteFigures(output, results);
            foreach (var (_, h, _) in hosts.Where(h => h.Host.OutputLines > 0))
            {
                h.WriteTail(output);
            }

            BenchOutput.WriteLoad(output, "load at the end: ");
            foreach (var client in clients.Values)
            {
                client.Dispose();
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
            return 1;
        }
        finally
        {
            foreach (var (_, h, dataDirectory) in hosts)
            {
                await h.DisposeAsync();
                if (dataDirectory is not null)
                {
                    Directory.Delete(dataDirectory, recursive: true);
                }
            }
        }
    }

    /// <summary>
    /// UTF-8 JSON bodies of <see cref="UserEventRequest"/>: users <c>u000123</c> of 1,000, items <c>a000123</c> of
    /// 2,000 in 24 categories <c>c07</c>, the three kinds; the same <paramref name="seed"/> gives the same bodies.
    /// </summary>
    public static IReadOnlyList<byte[]> CreateBodies(int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, PoolSize).Select(_ => MeshJson.Serialize(new UserEventRequest
        {
            UserId = string.Create(CultureInfo.InvariantCulture, $"u{random.Next(RequestPool.UserCount):D6}"),
            Kind = Kinds[random.Next(Kinds.Length)],
            ItemId = string.Create(CultureInfo.InvariantCulture, $"a{random.Next(RequestPool.AdCount):D6}"),
            Category = string.Create(CultureInfo.InvariantCulture, $"c{random.Next(RequestPool.CategoryCount):D2}"),
        }))];
    }

    /// <summary>One measurement of <paramref name="host"/>, charged with its CPU until it is quiet again.</summary>
    private static async Task<EventsPhase> MeasureAsync(
        StandaloneHost host, IReadOnlyList<StandaloneHost> all, HttpClient client, string mode, IReadOnlyList<byte[]> bodies, EventsOptions options, CancellationToken cancellationToken)
    {
        TimeSpan AllHosts() => all.Aggregate(TimeSpan.Zero, (sum, h) => sum + h.CpuTime);
        var (started, machine, own, cpu, hostsCpu) = (Stopwatch.GetTimestamp(), MachineCpu.Busy(), Environment.CpuUsage.TotalTime, host.CpuTime, AllHosts());
        var phase = await RunAsync(client, bodies, options.Concurrency, options.Duration, record: true, cancellationToken);
        var measured = host.CpuTime;
        var settle = await host.SettleAsync(IdleCores, SettleTimeout, cancellationToken);
        var hostCpu = host.CpuTime - cpu;
        var other = MachineCpu.Busy() - machine - (Environment.CpuUsage.TotalTime - own) - (AllHosts() - hostsCpu);
        return phase with
        {
            Mode = mode,
            HostCpu = hostCpu,
            HostCpuTrailing = hostCpu - (measured - cpu),
            OtherCpu = other,
            Wall = Stopwatch.GetElapsedTime(started),
            Settle = settle,
        };
    }

    /// <summary>A closed loop: each of <paramref name="concurrency"/> workers keeps one request in flight until the deadline; a success is a 202.</summary>
    private static async Task<EventsPhase> RunAsync(
        HttpClient client, IReadOnlyList<byte[]> bodies, int concurrency, TimeSpan duration, bool record, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var (ticks, successes, errors, first) = (new List<long>(), 0L, 0L, (string?)null);
            for (var n = w * bodies.Count / concurrency; Stopwatch.GetTimestamp() < deadline; n++)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.PostAsync(EventsPath, LoadRunner.Json(bodies[n % bodies.Count]), cancellationToken);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        successes++;
                        if (record)
                        {
                            ticks.Add(Stopwatch.GetTimestamp() - sent);
                        }
                    }
                    else
                    {
                        errors++;
                        first ??= $"HTTP {(int)response.StatusCode}";
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    errors++;
                    first ??= e.GetType().Name + ": " + e.Message;
                }
            }

            return (ticks, successes, errors, first);
        }, cancellationToken)));
        var sorted = workers.SelectMany(w => w.ticks).Order().ToArray();
        return new EventsPhase
        {
            Mode = "",
            Elapsed = Stopwatch.GetElapsedTime(started),
            Successes = workers.Sum(w => w.successes),
            Errors = workers.Sum(w => w.errors),
            FirstError = workers.Select(w => w.first).FirstOrDefault(e => e is not null),
            SortedTicks = sorted,
        };
    }

    private static long? DatabaseBytes(string? dataDirectory) => dataDirectory is null
        ? null
        : new DirectoryInfo(dataDirectory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private static void WriteTable(TextWriter output, IReadOnlyList<EventsPhase> results)
    {
        output.WriteLine($"{"mode",-16}{"requests/s",12}{"p50 ms",9}{"p90 ms",9}{"p99 ms",9}{"errors",8}{"host cpu ms/req",17}{"data MiB",10}");
        foreach (var r in results)
        {
            var data = r.DatabaseBytes is { } bytes ? (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "-";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Mode,-16}{r.RequestsPerSecond,12:F1}{r.PercentileMs(50),9:F2}{r.PercentileMs(90),9:F2}{r.PercentileMs(99),9:F2}{r.Errors,8}{r.HostCpuMsPerRequest,17:F3}{data,10}"));
        }

        output.WriteLine();
        output.WriteLine("after the last request of each host:");
        foreach (var r in results)
        {
            var settled = r.Settle is { } settle
                ? string.Create(CultureInfo.InvariantCulture, $"host quiet after {settle.TotalSeconds:F1} s")
                : $"host still busy after {SettleTimeout.TotalSeconds:F0} s";
            var other = r.OtherCores is { } cores ? string.Create(CultureInfo.InvariantCulture, $"; other processes busy {cores:F2} cores") : "";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Mode,-15}: {settled}, {100 * r.HostCpuTrailing / r.HostCpu:F0}% of its CPU came after the last request (delivery to user-model and precompute){other}"));
        }

        foreach (var r in results.Where(r => r.FirstError is not null))
        {
            output.WriteLine($"first error on {r.Mode}: {r.FirstError}");
        }

        output.WriteLine();
    }

    private static void WriteFigures(TextWriter output, IReadOnlyList<EventsPhase> results)
    {
        foreach (var r in results)
        {
            var name = "events_" + r.Mode.Replace('-', '_');
            BenchOutput.WriteFigure(output, $"{name}_rps", r.RequestsPerSecond, "rps");
            BenchOutput.WriteFigure(output, $"{name}_p50_ms", r.PercentileMs(50), "ms");
            BenchOutput.WriteFigure(output, $"{name}_p99_ms", r.PercentileMs(99), "ms");
            BenchOutput.WriteFigure(output, $"{name}_errors", r.Errors, "count");
            BenchOutput.WriteFigure(output, $"{name}_host_cpu_ms_per_req", r.HostCpuMsPerRequest, "ms");
            BenchOutput.WriteFigure(output, $"{name}_other_cores", r.OtherCores ?? double.NaN, "cores");
        }

        var memory = results.FirstOrDefault(r => r.Mode == "memory");
        var durable = results.FirstOrDefault(r => r.Mode == "durable");
        if (durable is not null)
        {
            BenchOutput.WriteFigure(output, "events_rps", durable.RequestsPerSecond, "rps");
        }

        if (memory is null)
        {
            return;
        }

        foreach (var r in results.Where(r => r != memory))
        {
            var name = r.Mode.Replace('-', '_');
            BenchOutput.WriteFigure(output, $"events_rps_{name}_vs_memory", r.RequestsPerSecond / memory.RequestsPerSecond, "ratio");
            BenchOutput.WriteFigure(output, $"events_p50_{name}_vs_memory", r.PercentileMs(50) / memory.PercentileMs(50), "ratio");
            BenchOutput.WriteFigure(output, $"events_host_cpu_{name}_vs_memory", r.HostCpuMsPerRequest / memory.HostCpuMsPerRequest, "ratio");
        }
    }
}

/// <summary>One host's measurement. Throughput and percentiles count 202 replies only.</summary>
public sealed record EventsPhase
{
    public required string Mode { get; init; }
    public required TimeSpan Elapsed { get; init; }
    public required long Successes { get; init; }
    public required long Errors { get; init; }
    public string? FirstError { get; init; }

    /// <summary>Client-observed latencies of successful requests in Stopwatch ticks, ascending.</summary>
    public required long[] SortedTicks { get; init; }

    /// <summary>Host CPU from the start of the measurement until the host was quiet again: accepting and delivering.</summary>
    public TimeSpan HostCpu { get; init; }

    public TimeSpan HostCpuTrailing { get; init; }

    /// <summary>CPU other processes used from the start of the measurement until the host was quiet; null off Linux.</summary>
    public TimeSpan? OtherCpu { get; init; }

    /// <summary>Wall time from the start of the measurement until the host was quiet.</summary>
    public TimeSpan Wall { get; init; }

    /// <summary>How long the host took to go quiet after the last measurement; null when it had not within the limit.</summary>
    public TimeSpan? Settle { get; init; }

    /// <summary>Cores other processes kept busy on average meanwhile: near zero means a quiet machine.</summary>
    public double? OtherCores => OtherCpu / Wall;

    /// <summary>Bytes in the data folder at the end (database and WAL); null without one.</summary>
    public long? DatabaseBytes { get; init; }

    public double RequestsPerSecond => Successes / Elapsed.TotalSeconds;

    /// <summary>The measurements of one mode taken as one: summed counts, times and CPU, all latencies.</summary>
    public static EventsPhase Merge(IReadOnlyList<EventsPhase> phases) => new()
    {
        Mode = phases[0].Mode,
        Elapsed = phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Elapsed),
        Successes = phases.Sum(p => p.Successes),
        Errors = phases.Sum(p => p.Errors),
        FirstError = phases.Select(p => p.FirstError).FirstOrDefault(e => e is not null),
        SortedTicks = [.. phases.SelectMany(p => p.SortedTicks).Order()],
        HostCpu = phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.HostCpu),
        HostCpuTrailing = phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.HostCpuTrailing),
        OtherCpu = phases.All(p => p.OtherCpu is not null) ? phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.OtherCpu!.Value) : null,
        Wall = phases.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Wall),
        Settle = phases[^1].Settle,
    };

    public double HostCpuMsPerRequest => Successes == 0 ? double.NaN : HostCpu.TotalMilliseconds / Successes;

    /// <summary>Nearest-rank percentile in ms; NaN when nothing succeeded.</summary>
    public double PercentileMs(double p) => BenchStatistics.NearestRankMs(SortedTicks, p);
}
