namespace Mesh.Runtime;

/// <summary>
/// Counts work in progress and completes <see cref="WhenIdleAsync"/> when it drops to zero. Lets a host (or a test)
/// wait until queued work has settled without polling.
/// </summary>
public sealed class IdleTracker
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _idle = Completed();
    private long _outstanding;

    public long Outstanding
    {
        get
        {
            lock (_lock)
            {
                return _outstanding;
            }
        }
    }

    public void Begin()
    {
        lock (_lock)
        {
            if (_outstanding++ == 0)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void End()
    {
        lock (_lock)
        {
            if (--_outstanding == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    /// <summary>Completes when nothing is outstanding (at once if nothing is now).</summary>
    public Task WhenIdleAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return _idle.Task.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource Completed()
    {
        var tcs = new TaskCompletionSource();
        tcs.SetResult();
        return tcs;
    }
}
