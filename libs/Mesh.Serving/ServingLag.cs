using Mesh.Contracts;

namespace Mesh.Serving;

/// <summary>
/// How far the version this process serves is behind what the trainer published, from the <c>model-published</c>
/// events it received (<see cref="ModelPublished.TrainedExamples"/>, <see cref="ModelPublished.PublishedAt"/>): slow
/// loading shows here, slow publishing in the trainer's <c>trainer.sincePublish</c>. Keeps the newest 16 events.
/// </summary>
public sealed class ServingLag(ServingModel serving, TimeProvider clock)
{
    private const int Kept = 16;
    private readonly SortedList<long, ModelPublished> _published = [];
    private readonly Lock _lock = new();

    public void Record(ModelPublished published)
    {
        ArgumentNullException.ThrowIfNull(published);
        lock (_lock)
        {
            _published[published.Version] = published;
            while (_published.Count > Kept)
            {
                _published.RemoveAt(0);
            }
        }
    }

    /// <summary>
    /// <c>servingVersion</c>; <c>latestPublished</c>, the newest version announced; <c>versions</c> and <c>examples</c>
    /// (labelled examples) that serving is behind it; <c>seconds</c> since the oldest announced version newer than the
    /// one serving was published (0 when serving is current). <c>examples</c> is null when the serving version's own
    /// count is unknown (loaded at start-up, before any event).
    /// </summary>
    public object Snapshot()
    {
        var version = serving.Version;
        lock (_lock)
        {
            var latest = _published.Count > 0 ? _published.Values[^1] : null;
            var behind = _published.Values.Where(p => p.Version > version).ToList();
            long? servingExamples = version == 0 ? 0 : _published.TryGetValue(version, out var current) ? current.TrainedExamples : null;
            return new
            {
                servingVersion = version,
                latestPublished = Math.Max(version, latest?.Version ?? 0),
                versions = behind.Count == 0 ? 0 : behind[^1].Version - version,
                examples = behind.Count == 0 ? 0 : behind[^1].TrainedExamples - servingExamples,
                seconds = behind.Count == 0 ? 0 : Math.Round(Math.Max(0, (clock.GetUtcNow() - behind[0].PublishedAt).TotalSeconds), 3),
            };
        }
    }
}
