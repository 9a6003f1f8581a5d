using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Mesh.Contracts;
using Mesh.Testing;
using Xunit.Abstractions;

namespace Mesh.Standalone.Tests;

/// <summary>
/// The standalone host as a real process with a data folder, killed with SIGKILL while events are being posted, then
/// started again on the same folder: every event answered 202 before the kill reaches user-model (its user gets an
/// embedding), and the host reads its database back. Out of process, so it waits on the real clock (bounded polls).
/// </summary>
[Trait("Category", "Slow")]
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IDisposable
{
    private const int Users = 400;
    private const int KillAfterAcknowledged = 150;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly TempDirectory _data = new("mesh-crash");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task KillDashNine_WhilePostingEvents_EveryAcknowledgedEventDeliveredAfterRestart()
    {
        var acknowledged = new ConcurrentBag<string>();
        using (var first = await HostProcess.StartAsync(_data.Path, output))
        {
            using var client = first.CreateClient();
            var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var next = -1;
            var posters = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < Users && !killed.Task.IsCompleted)
                {
                    var user = $"crash-u{i:D4}";
                    try
                    {
                        using var response = await client.PostAsJsonAsync("/v1/events", new { userId = user, kind = "view", itemId = $"a{i:D6}", category = "c01" });
                        if (response.StatusCode == HttpStatusCode.Accepted && !killed.Task.IsCompleted)
                        {
                            acknowledged.Add(user);
                        }
                    }
                    catch (HttpRequestException)
                    {
                        // In flight when the host died: not acknowledged.
                    }

                    if (acknowledged.Count >= KillAfterAcknowledged && killed.TrySetResult())
                    {
                        first.Kill();
                    }
                }
            })).ToList();
            await Task.WhenAll(posters);
            Assert.True(killed.Task.IsCompleted, $"the host was not killed: only {acknowledged.Count} events were acknowledged");
            await first.WaitForExitAsync();
        }

        output.WriteLine($"{acknowledged.Count} events acknowledged before SIGKILL; files left: {string.Join(", ", Directory.EnumerateFiles(_data.Path).Select(Path.GetFileName))}");

        using var second = await HostProcess.StartAsync(_data.Path, output);
        using var rankClient = second.CreateClient();
        var waiting = acknowledged.ToHashSet(StringComparer.Ordinal);
        var deadline = Stopwatch.GetTimestamp() + (long)(Patience.TotalSeconds * Stopwatch.Frequency);
        while (waiting.Count > 0 && Stopwatch.GetTimestamp() < deadline)
        {
            foreach (var user in waiting.ToList())
            {
                if (await KnownAsync(rankClient, user))
                {
                    waiting.Remove(user);
                }
            }

            if (waiting.Count > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
        }

        Assert.True(waiting.Count == 0, $"{waiting.Count} of {acknowledged.Count} acknowledged events never reached user-model, e.g. {string.Join(", ", waiting.Take(5))}");
    }

    /// <summary>Whether the router serves <paramref name="user"/> with an embedding of its own (not the default one).</summary>
    private static async Task<bool> KnownAsync(HttpClient client, string user)
    {
        using var response = await client.PostAsJsonAsync("/v1/rank", new RankRequest
        {
            UserId = user,
            Candidates = [new Candidate { AdId = "a000001", Category = "c01" }, new Candidate { AdId = "a000002", Category = "c02" }],
            K = 1,
        }, MeshJson.Options);
        response.EnsureSuccessStatusCode();
        var rank = await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options);
        return rank!.Embedding.Source != EmbeddingSource.Default;
    }

    /// <summary>The Release or Debug build of services/standalone (the one this test was built with) as a child process.</summary>
    private sealed class HostProcess : IDisposable
    {
        private readonly Process _process;

        private HostProcess(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<HostProcess> StartAsync(string dataDirectory, ITestOutputHelper output)
        {
            var port = FreePort();
            var dll = StandaloneDll();
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = Path.GetDirectoryName(dll)!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                dll, "--urls", $"http://127.0.0.1:{port}", "--Standalone:Driver=false", $"--Standalone:DataDirectory={dataDirectory}",
                "--Standalone:SummaryInterval=00:00:00", "--Logging:LogLevel:Default=Warning",
                // What the database held at start (keys, undelivered events) goes to the test output.
                "--Logging:LogLevel:Mesh.Runtime.Embedded=Information",
            })
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, e) => Write(output, e.Data);
            process.ErrorDataReceived += (_, e) => Write(output, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var host = new HostProcess(process, new Uri($"http://127.0.0.1:{port}/"));
            using var client = host.CreateClient();
            var deadline = Stopwatch.GetTimestamp() + (long)(Patience.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                Assert.False(process.HasExited, $"the standalone host exited with code {(process.HasExited ? process.ExitCode : 0)} before it was healthy");
                try
                {
                    using var health = await client.GetAsync("/healthz");
                    if (health.IsSuccessStatusCode)
                    {
                        return host;
                    }
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }

            host.Dispose();
            throw new TimeoutException($"the standalone host was not healthy within {Patience.TotalSeconds} s");
        }

        public HttpClient CreateClient() => new() { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };

        /// <summary>SIGKILL: no shutdown, no flush, no checkpoint.</summary>
        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        public Task WaitForExitAsync() => _process.WaitForExitAsync();

        public void Dispose()
        {
            Kill();
            _process.WaitForExit(10_000);
            _process.Dispose();
        }

        private static void Write(ITestOutputHelper output, string? line)
        {
            if (line is not null)
            {
                try
                {
                    output.WriteLine($"host | {line}");
                }
                catch (InvalidOperationException)
                {
                    // The test has finished; the host's last words have nowhere to go.
                }
            }
        }

        private static string StandaloneDll()
        {
            // .../tests/Mesh.Standalone.Tests/bin/<Configuration>/net10.0/: the project reference built the host alike.
            var bin = new DirectoryInfo(AppContext.BaseDirectory);
            var configuration = bin.Parent!.Name;
            for (var dir = bin; dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
                {
                    var dll = Path.Combine(dir.FullName, "services", "standalone", "bin", configuration, bin.Name, "Mesh.Standalone.dll");
                    Assert.True(File.Exists(dll), $"{dll} is missing; build services/standalone in {configuration}");
                    return dll;
                }
            }

            throw new InvalidOperationException($"No Mesh.sln above {AppContext.BaseDirectory}.");
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
