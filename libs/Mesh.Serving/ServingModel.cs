using Mesh.Models;

namespace Mesh.Serving;

/// <summary>
/// The ranking model serving now. A new version replaces the reference in one write; callers that already hold the
/// old one finish with it, so a reload never fails a request. Starts with version 0, the untrained model.
/// </summary>
public sealed class ServingModel
{
    private RankingModel _current = RankingModel.CreateInitial();
    private long _loads;

    public RankingModel Current => Volatile.Read(ref _current);

    /// <summary>Versions installed since start.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>Installs <paramref name="model"/> unless a newer version is already serving; true when installed.</summary>
    public bool TryInstall(RankingModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        while (true)
        {
            var seen = Current;
            if (model.Version <= seen.Version)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _current, model, seen) == seen)
            {
                Interlocked.Increment(ref _loads);
                return true;
            }
        }
    }
}
