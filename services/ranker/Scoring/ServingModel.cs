using Mesh.Models;

namespace Mesh.Ranker.Scoring;

/// <summary>
/// The model serving now. A new version replaces the reference in one write; requests that already hold the old one
/// finish with it, so a reload never fails a request.
/// </summary>
public sealed class ServingModel
{
    private RankingModel _current = RankingModel.Initial;

    public RankingModel Current => Volatile.Read(ref _current);

    /// <summary>Installs <paramref name="model"/> unless a newer version is already serving; true when installed.</summary>
    public bool TryInstall(RankingModel model)
    {
        while (true)
        {
            var seen = Current;
            if (model.Version <= seen.Version)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _current, model, seen) == seen)
            {
                return true;
            }
        }
    }
}
