namespace Mesh.Models;

/// <summary>
/// Trains a <see cref="RankingModel"/> one example at a time with per-coordinate Adagrad on the log loss. Not thread
/// safe: the trainer service owns one instance and feeds it in time order.
/// </summary>
public sealed class OnlineTrainer
{
    private readonly Dictionary<string, TierState> _tiers;
    private readonly double _learningRate;
    private readonly double _l2;

    /// <param name="start">Weights to continue from (copied).</param>
    /// <param name="learningRate">Adagrad step size. Default 0.05.</param>
    /// <param name="l2">L2 penalty per update on touched weights. Default 1e-6.</param>
    public OnlineTrainer(RankingModel start, double learningRate = 0.05, double l2 = 1e-6)
    {
        _learningRate = learningRate;
        _l2 = l2;
        _tiers = start.Tiers.ToDictionary(t => t.Key, t => new TierState(t.Value.Clone()), StringComparer.Ordinal);
        Examples = start.TrainedExamples;
    }

    public long Examples { get; private set; }

    /// <summary>Predicted probability of the tier for <paramref name="x"/> under the current weights.</summary>
    public double Predict(string tier, in FeatureInput x) => _tiers[tier].Weights.Predict(x);

    /// <summary>One Adagrad step on every tier for a labelled example.</summary>
    public void Train(in FeatureInput x, bool clicked)
    {
        Span<int> hashedBuffer = stackalloc int[RankingFeatures.LargeHashed];
        Span<float> denseBuffer = stackalloc float[RankingFeatures.LargeDense];
        foreach (var (name, state) in _tiers)
        {
            var hashed = hashedBuffer[..RankingFeatures.HashedCount(name)];
            var dense = denseBuffer[..RankingFeatures.DenseCount(name)];
            RankingFeatures.Write(name, x, hashed, dense);
            var p = LogisticTier.Sigmoid(state.Weights.Logit(hashed, dense));
            var g = p - (clicked ? 1 : 0);
            foreach (var i in hashed)
            {
                Step(state.Weights.HashedWeights, state.HashedAccumulators, i, g);
            }

            for (var j = 0; j < dense.Length; j++)
            {
                if (dense[j] != 0)
                {
                    Step(state.Weights.DenseWeights, state.DenseAccumulators, j, g * dense[j]);
                }
            }
        }

        Examples++;
    }

    /// <summary>A frozen copy of the current weights under <paramref name="version"/>.</summary>
    public RankingModel Snapshot(long version) =>
        new(version, Examples, _tiers.ToDictionary(t => t.Key, t => t.Value.Weights.Clone(), StringComparer.Ordinal));

    private void Step(float[] w, float[] accumulators, int i, double gradient)
    {
        var g = gradient + _l2 * w[i];
        accumulators[i] += (float)(g * g);
        w[i] -= (float)(_learningRate * g / (Math.Sqrt(accumulators[i]) + 1e-8));
    }

    private sealed class TierState(LogisticTier weights)
    {
        public LogisticTier Weights { get; } = weights;
        public float[] HashedAccumulators { get; } = new float[weights.HashedWeights.Length];
        public float[] DenseAccumulators { get; } = new float[weights.DenseWeights.Length];
    }
}
