using System.Runtime.InteropServices;

namespace Mesh.Bench.Load;

/// <summary>
/// Ctrl-C, SIGTERM and SIGHUP for a benchmark that runs standalone hosts as child processes. The first signal cancels
/// <see cref="Token"/> (the benchmark stops measuring and its cleanup kills the hosts); a second one, or the tool's own
/// exit, kills them at once through <c>killHosts</c>, so no host outlives the tool unless the tool is killed with -9.
/// </summary>
public sealed class HostInterrupt : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Action _killHosts;
    private readonly PosixSignalRegistration[] _signals;

    public HostInterrupt(Action killHosts)
    {
        _killHosts = killHosts;
        _signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }.Select(s => PosixSignalRegistration.Create(s, OnSignal))];
        AppDomain.CurrentDomain.ProcessExit += OnExit;
    }

    public CancellationToken Token => _stop.Token;

    public bool IsInterrupted => _stop.IsCancellationRequested;

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (_stop.IsCancellationRequested)
        {
            _killHosts();
            return;
        }

        context.Cancel = true;
        Console.Error.WriteLine("stopping: the standalone host will be killed");
        _stop.Cancel();
    }

    private void OnExit(object? sender, EventArgs e) => _killHosts();
}
