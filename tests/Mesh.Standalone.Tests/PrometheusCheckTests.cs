using System.Diagnostics;
using Xunit.Abstractions;

namespace Mesh.Standalone.Tests;

/// <summary>
/// Runs deploy/prometheus/check.sh: Debian's prometheus scrapes the standalone host twice and answers a histogram
/// query through its HTTP API (issue 13). The script installs prometheus when it is missing; the test is skipped,
/// with the reason, only where it is missing and cannot be installed (no apt-get, or not root and no sudo).
/// </summary>
[Trait("Category", "Slow")]
public sealed class PrometheusCheckTests(ITestOutputHelper output)
{
    [PrometheusFact]
    public async Task CheckScript_StandaloneHost_TwoScrapesAndAHistogramQueryPass()
    {
        var root = RepositoryRoot();
        var hostDll = Path.Combine(root, "services", "standalone", "bin", "Debug", "net10.0", "Mesh.Standalone.dll");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        start.ArgumentList.Add(Path.Combine(root, "deploy", "prometheus", "check.sh"));
        if (File.Exists(hostDll))
        {
            start.ArgumentList.Add("--host-dll");
            start.ArgumentList.Add(hostDll);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("prometheus check: passed", await stdout, StringComparison.Ordinal);
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Mesh.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact skipped, with the reason, where prometheus is missing and apt-get cannot install it.</summary>
public sealed class PrometheusFactAttribute : FactAttribute
{
    public PrometheusFactAttribute()
    {
        if (OnPath("prometheus"))
        {
            return;
        }

        if (!OnPath("apt-get"))
        {
            Skip = "prometheus is not installed and there is no apt-get to install it (deploy/prometheus/check.sh needs Debian's prometheus)";
        }
        else if (Environment.UserName != "root" && !OnPath("sudo"))
        {
            Skip = "prometheus is not installed and apt-get needs root or sudo here (deploy/prometheus/check.sh installs it)";
        }
    }

    private static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Any(dir => File.Exists(Path.Combine(dir, name)));
}
