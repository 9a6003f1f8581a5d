using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Mesh.Bench.Load;

/// <summary>
/// The standalone mesh as a child process on a free loopback port: no synthetic driver (the benchmark is the only
/// traffic), no persistence unless a data folder is given, no summary line, warnings only. Disposing kills it and its process tree; so does
/// <see cref="Kill"/>, which is safe to call from signal and exit handlers and more than once.
/// </summary>
public sealed class StandaloneHost : IAsyncDisposable
{
    // Lines kept from the host's stdout and stderr, for diagnosing a failed start or errors under load.
    private const int TailLines = 40;

    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly Lock _tailLock = new();
    private long _lines;

    private StandaloneHost(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>Lines the host has written so far; with warnings-only logging, zero is the healthy value.</summary>
    public long OutputLines => Interlocked.Read(ref _lines);

    public bool HasExited => _process.HasExited;

    /// <summary>CPU time the host has used so far, all threads, user and kernel.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>The last lines the host wrote, oldest first.</summary>
    public IReadOnlyList<string> OutputTail()
    {
        lock (_tailLock)
        {
            return [.. _tail];
        }
    }

    /// <summary>Writes how many lines the host logged and the last of them, for a reader to see why it failed.</summary>
    public void WriteTail(TextWriter writer)
    {
        var tail = OutputTail();
        writer.WriteLine($"the host wrote {OutputLines} line(s) (it logs warnings and above); the last {tail.Count}:");
        foreach (var line in tail)
        {
            writer.WriteLine($"  | {line}");
        }
    }

    /// <summary>
    /// The host to start: <paramref name="given"/> (a <c>--host</c> option) or the default build; null, with the error
    /// written to standard error, when there is none.
    /// </summary>
    public static async Task<string?> ResolvePathAsync(string? given)
    {
        var path = given ?? FindDefaultPath();
        if (path is not null && File.Exists(path))
        {
            return path;
        }

        await Console.Error.WriteLineAsync(
            $"error: Mesh.Standalone.dll not found ({path ?? "services/standalone/bin/Release/net10.0"}); bench/run.sh builds it, or pass --host.");
        return null;
    }

    /// <summary>The Release build of services/standalone, found by walking up from this tool to the repository root.</summary>
    public static string? FindDefaultPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
            {
                var path = Path.Combine(dir.FullName, "services", "standalone", "bin", "Release", "net10.0", "Mesh.Standalone.dll");
                return File.Exists(path) ? path : null;
            }
        }

        return null;
    }

    /// <summary>
    /// Starts the host; <paramref name="dataDirectory"/> turns persistence on there (null: memory only), and
    /// <paramref name="settings"/> (<c>--Section:Key=value</c>) are passed after the benchmark's own.
    /// </summary>
    public static StandaloneHost Start(string dllPath, string? dataDirectory = null, IReadOnlyList<string>? settings = null)
    {
        var port = FreeLoopbackPort();
        var start = new ProcessStartInfo("dotnet")
        {
            // The host reads appsettings.json from its content root, the working directory.
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(dllPath))!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] args =
        [
            Path.GetFullPath(dllPath),
            "--urls", $"http://127.0.0.1:{port}",
            "--Standalone:Driver=false",
            $"--Standalone:DataDirectory={dataDirectory}",
            "--Standalone:SummaryInterval=00:00:00",
            "--Standalone:BenchEndpoints=true",
            "--Logging:LogLevel:Default=Warning",
            // appsettings.json raises the lifetime category to Information; only warnings should reach the report.
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
            .. settings ?? [],
        ];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new StandaloneHost(process, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => host.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => host.Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Polls <c>GET /healthz</c> every 100 ms until it answers 200, the host exits, or <paramref name="timeout"/> passes.</summary>
    public async Task WaitHealthyAsync(HttpClient client, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        string last = "no answer";
        while (Stopwatch.GetElapsedTime(started) < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The standalone host exited with code {_process.ExitCode} before it was healthy.");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(BaseAddress, "healthz"), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        throw new TimeoutException($"The standalone host was not healthy within {timeout.TotalSeconds:F0} s (GET /healthz: {last}).");
    }

    /// <summary>
    /// Waits until the host uses less than <paramref name="idleCores"/> of CPU over two windows in a row, so the work a
    /// phase leaves behind (impressions the trainer and precompute still consume) lands in that phase, not the next.
    /// Returns how long that took, or null when the host was still busy at <paramref name="timeout"/>.
    /// </summary>
    public async Task<TimeSpan?> SettleAsync(double idleCores, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var window = TimeSpan.FromMilliseconds(500);
        var started = Stopwatch.GetTimestamp();
        var quiet = 0;
        var cpu = CpuTime;
        var sampled = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < timeout)
        {
            await Task.Delay(window, cancellationToken);
            var now = CpuTime;
            quiet = (now - cpu) / Stopwatch.GetElapsedTime(sampled) < idleCores ? quiet + 1 : 0;
            cpu = now;
            sampled = Stopwatch.GetTimestamp();
            if (quiet == 2)
            {
                return Stopwatch.GetElapsedTime(started);
            }
        }

        return null;
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill, or never started.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"warning: the standalone host (pid {_process.Id}) did not exit within 10 s of being killed.");
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        Interlocked.Increment(ref _lines);
        lock (_tailLock)
        {
            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }
    }

    // The port is free when we look; another process could take it before the host binds, in which case the host
    // exits and WaitHealthyAsync reports it.
    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
