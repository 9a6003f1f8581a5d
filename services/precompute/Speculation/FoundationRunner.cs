using Mesh.Models;

namespace Mesh.Precompute.Speculation;

/// <summary>The foundation model precompute runs on the pairs the speculator predicts.</summary>
public interface IFoundationRunner
{
    /// <summary>Version of the model that <see cref="Represent"/> runs; stored with every representation.</summary>
    long Version { get; }

    /// <summary>The (user, ad) representation: <see cref="Models.Features.FeatureSpace.PrecomputedDimension"/> floats.</summary>
    float[] Represent(ReadOnlySpan<float> userEmbedding, string adId, string category);
}

/// <summary>
/// Today's foundation model: the fixed placeholder <see cref="FoundationModel.Represent"/> at
/// <see cref="FoundationModel.Version"/>. The learned foundation model, published as its own versioned artifact, replaces
/// this registration; its version then comes from what was loaded, and the ranker accepts whichever version was stored.
/// </summary>
public sealed class PlaceholderFoundationRunner : IFoundationRunner
{
    public long Version => FoundationModel.Version;

    public float[] Represent(ReadOnlySpan<float> userEmbedding, string adId, string category) => FoundationModel.Represent(userEmbedding, adId, category);
}
