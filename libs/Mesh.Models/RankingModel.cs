using System.Numerics.Tensors;

namespace Mesh.Models;

/// <summary>
/// One tier's model: logistic regression over hashed and dense features. A loaded instance is never mutated, so any
/// number of requests may read it while a newer version is loaded beside it.
/// </summary>
public sealed class LogisticTier
{
    public LogisticTier(string name, float[] hashedWeights, float[] denseWeights)
    {
        if (hashedWeights.Length != 1 << RankingFeatures.HashBits || denseWeights.Length != RankingFeatures.DenseCount(name))
        {
            throw new ArgumentException($"Tier '{name}' expects {1 << RankingFeatures.HashBits} hashed and {RankingFeatures.DenseCount(name)} dense weights.");
        }

        Name = name;
        HashedWeights = hashedWeights;
        DenseWeights = denseWeights;
    }

    public string Name { get; }
    public float[] HashedWeights { get; }
    public float[] DenseWeights { get; }

    /// <summary>A tier predicting <paramref name="prior"/> for everything.</summary>
    public static LogisticTier Prior(string name, double prior)
    {
        var hashed = new float[1 << RankingFeatures.HashBits];
        hashed[0] = (float)Math.Log(prior / (1 - prior));
        return new LogisticTier(name, hashed, new float[RankingFeatures.DenseCount(name)]);
    }

    public double Logit(ReadOnlySpan<int> hashed, ReadOnlySpan<float> dense)
    {
        var z = 0.0;
        foreach (var i in hashed)
        {
            z += HashedWeights[i];
        }

        return z + TensorPrimitives.Dot(DenseWeights, dense);
    }

    public double Predict(in FeatureInput x)
    {
        Span<int> hashed = stackalloc int[RankingFeatures.HashedCount(Name)];
        Span<float> dense = stackalloc float[RankingFeatures.DenseCount(Name)];
        RankingFeatures.Write(Name, x, hashed, dense);
        return Sigmoid(Logit(hashed, dense));
    }

    public LogisticTier Clone() => new(Name, (float[])HashedWeights.Clone(), (float[])DenseWeights.Clone());

    public static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
}

/// <summary>A published ranking model: one <see cref="LogisticTier"/> per tier, and the version that names them.</summary>
public sealed class RankingModel(long version, long trainedExamples, IReadOnlyDictionary<string, LogisticTier> tiers)
{
    /// <summary>The click rate an untrained model predicts.</summary>
    public const double DefaultPrior = 0.04;

    public long Version { get; } = version;
    public long TrainedExamples { get; } = trainedExamples;
    public IReadOnlyDictionary<string, LogisticTier> Tiers { get; } = tiers;

    /// <summary>Version 0: what serves before the trainer published anything.</summary>
    public static RankingModel Initial { get; } = new(0, 0, Contracts.Tiers.All.ToDictionary(t => t, t => LogisticTier.Prior(t, DefaultPrior)));

    public LogisticTier Tier(string name) => Tiers.TryGetValue(name, out var tier) ? tier : throw new ArgumentException($"Unknown tier '{name}'.", nameof(name));

    public RankingModel WithVersion(long version, long trainedExamples) =>
        new(version, trainedExamples, Tiers.ToDictionary(t => t.Key, t => t.Value.Clone()));
}
