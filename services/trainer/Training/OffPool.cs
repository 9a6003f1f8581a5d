namespace Mesh.Trainer.Training;

/// <summary>Training and checkpoint work is seconds of CPU a minute: a dedicated thread rather than a pool thread.</summary>
internal static class OffPool
{
    public static Task<T> RunAsync<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public static Task RunAsync(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
