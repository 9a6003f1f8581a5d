using System.Numerics.Tensors;

namespace Mesh.Learning.Optim;

/// <summary>
/// An exponential moving average of a model's weights, kept in a second set of parameters of the same names and shapes:
/// after each optimizer step, <c>average ← average + (1 − decay)·(weights − average)</c>. Online training with a large
/// step for the embedding tables leaves the weights' overall level moving from step to step; a snapshot of the raw
/// weights keeps whatever level its last steps left, the average keeps the level of the last 1 / (1 − decay) steps.
/// Embedding tables are averaged whole, not only the rows a step touched: a row the batch did not use stays where it
/// was in the weights, and the average moves toward it.
/// </summary>
/// <remarks>
/// The n-th update keeps <c>min(decay, (1 + n) / (10 + n))</c> of the average, so that at the start, while the weights
/// are far from anywhere worth averaging, the average follows them closely instead of lagging by a whole horizon.
/// </remarks>
public sealed class WeightAverage
{
    private readonly (Tensor Weights, Tensor Average)[] _pairs;

    /// <param name="weights">The parameters being trained.</param>
    /// <param name="average">Parameters of the same names and shapes, in the same order; they start as a copy of the weights.</param>
    /// <param name="decay">Share of the average kept at each update, in [0, 1): 0 copies the weights.</param>
    public WeightAverage(IReadOnlyList<Parameter> weights, IReadOnlyList<Parameter> average, float decay)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(average);
        if (!(decay is >= 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "the decay is in [0, 1)");
        }

        if (weights.Count != average.Count)
        {
            throw new ArgumentException($"{average.Count} averaged parameters for {weights.Count} weights", nameof(average));
        }

        for (var i = 0; i < weights.Count; i++)
        {
            if (weights[i].Name != average[i].Name || weights[i].Shape != average[i].Shape)
            {
                throw new ArgumentException($"parameter {i} is {weights[i].Name} {weights[i].Shape} but its average is {average[i].Name} {average[i].Shape}", nameof(average));
            }
        }

        Decay = decay;
        _pairs = [.. weights.Zip(average, (w, a) => (w.Value, a.Value))];
        foreach (var (w, a) in _pairs)
        {
            w.Span.CopyTo(a.Span);
        }
    }

    public float Decay { get; }

    /// <summary>Updates so far.</summary>
    public long Updates { get; private set; }

    /// <summary>Moves the average toward the weights (by <c>1 − decay</c> once warmed up); call after each optimizer step.</summary>
    public void Update()
    {
        var decay = Math.Min(Decay, (1f + Updates) / (10f + Updates));
        Updates++;
        var step = 1 - decay;
        foreach (var (w, a) in _pairs)
        {
            TensorPrimitives.Lerp(a.Span, w.Span, step, a.Span);
        }
    }
}
