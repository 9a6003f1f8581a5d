using Mesh.Contracts;
using Mesh.Runtime;

namespace Mesh.UserModel.Tests;

/// <summary>
/// The <see cref="IEventPublisher"/> the user actor sees in the behaviour suite: records each published embedding, can
/// refuse the next publishes (as a sidecar would), and can hold publishes at a gate that notes which users are inside
/// it at once.
/// </summary>
public sealed class TestPublisher : IEventPublisher
{
    private readonly Lock _lock = new();
    private readonly List<UserEmbeddingUpdated> _published = [];
    private readonly Dictionary<string, int> _inside = [];
    private readonly Dictionary<string, int> _mostInside = [];
    private TaskCompletionSource? _gate;
    private (HashSet<string> Users, TaskCompletionSource Reached)? _waiter;
    private int _failures;

    public IReadOnlyList<UserEmbeddingUpdated> Published
    {
        get
        {
            lock (_lock)
            {
                return [.. _published];
            }
        }
    }

    /// <summary>The most publishes that were inside at once for <paramref name="userId"/>.</summary>
    public int MostAtOnce(string userId)
    {
        lock (_lock)
        {
            return _mostInside.GetValueOrDefault(userId);
        }
    }

    /// <summary>Refuses the next <paramref name="count"/> publishes.</summary>
    public void FailNext(int count) => Interlocked.Exchange(ref _failures, count);

    /// <summary>Holds every publish from now on until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_lock)
        {
            _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Release()
    {
        lock (_lock)
        {
            _gate?.TrySetResult();
            _gate = null;
        }
    }

    /// <summary>Completes once a publish for each of <paramref name="userIds"/> is inside the gate at the same time.</summary>
    public Task InsideAtOnceAsync(params string[] userIds)
    {
        lock (_lock)
        {
            var waiter = (new HashSet<string>(userIds), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiter = waiter;
            CheckWaiter();
            return waiter.Item2.Task;
        }
    }

    public async Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Decrement(ref _failures) >= 0)
        {
            throw new InvalidOperationException("publish refused");
        }

        if (data is not UserEmbeddingUpdated update)
        {
            return;
        }

        Task gate;
        lock (_lock)
        {
            var inside = _inside[update.UserId] = _inside.GetValueOrDefault(update.UserId) + 1;
            _mostInside[update.UserId] = Math.Max(inside, _mostInside.GetValueOrDefault(update.UserId));
            gate = _gate?.Task ?? Task.CompletedTask;
            CheckWaiter();
        }

        try
        {
            await gate.WaitAsync(cancellationToken);
        }
        finally
        {
            lock (_lock)
            {
                _inside[update.UserId]--;
                _published.Add(update);
            }
        }
    }

    // Called with the lock held.
    private void CheckWaiter()
    {
        if (_waiter is { } w && w.Users.All(u => _inside.GetValueOrDefault(u) > 0))
        {
            w.Reached.TrySetResult();
            _waiter = null;
        }
    }
}
