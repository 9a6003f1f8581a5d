using System.Numerics.Tensors;

namespace Mesh.Models;

/// <summary>
/// Foundation-model placeholder (SOLARIS's role): a (user, ad) representation too costly to compute for every
/// candidate on the serving path, so precompute computes it ahead of time. Here: fixed random nonlinear features
/// (tanh of random projections) of the user vector, the ad vector and their product. Deterministic.
/// </summary>
/// <remarks>
/// Replaced by <see cref="Foundation.LearnedFoundationModel"/> (a trained, versioned foundation model with its own
/// checkpoint; <see cref="Foundation.LearnedFoundationModel.Represent"/> gives ŷ_F and e_FM). Kept, unchanged, for the
/// callers that still use it (precompute's speculator, the ranker's version check) until they load the published one.
/// </remarks>
public static class FoundationModel
{
    /// <summary>Length of a representation.</summary>
    public const int Dimension = 32;

    /// <summary>Version of the representation; bump when the computation changes so stale entries are not mixed in.</summary>
    public const long Version = 1;

    private const int InputDimension = 3 * ItemVectors.Dimension;

    // (Dimension, InputDimension), row-major, scaled so each pre-activation has unit variance for unit inputs.
    private static readonly float[] Projection = CreateProjection();

    public static float[] Represent(ReadOnlySpan<float> user, string adId, string category)
    {
        var ad = ItemVectors.ForAd(adId, category);
        Span<float> input = stackalloc float[InputDimension];
        user.CopyTo(input);
        ad.CopyTo(input[ItemVectors.Dimension..]);
        TensorPrimitives.Multiply(user, ad, input[(2 * ItemVectors.Dimension)..]);
        TensorPrimitives.Multiply(input[(2 * ItemVectors.Dimension)..], (float)Math.Sqrt(ItemVectors.Dimension), input[(2 * ItemVectors.Dimension)..]);

        var output = new float[Dimension];
        for (var r = 0; r < Dimension; r++)
        {
            output[r] = TensorPrimitives.Dot(Projection.AsSpan(r * InputDimension, InputDimension), input);
        }

        TensorPrimitives.Tanh(output, output);
        return output;
    }

    private static float[] CreateProjection()
    {
        var random = new Random(20240917);
        var w = new float[Dimension * InputDimension];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)((random.NextDouble() * 2 - 1) * Math.Sqrt(3.0));
        }

        return w;
    }
}
