using Mesh.Learning.Layers;

namespace Mesh.Models.Networks;

/// <summary>What an untrained network predicts, and the heads that make it so.</summary>
public static class Priors
{
    /// <summary>The click rate an untrained model predicts for everything (about the world's rate of random serving).</summary>
    public const double ClickRate = 0.04;

    /// <summary>
    /// A prediction head (in -> 1) with zero weights and the prior's logit as bias: an untrained model predicts the
    /// prior exactly, and the first steps train the head before the layers below it get a gradient.
    /// </summary>
    public static Linear Head(string name, int inFeatures, Random rng, double prior)
    {
        var head = new Linear(name, inFeatures, 1, rng);
        head.Weight.Value.Span.Clear();
        head.Bias!.Value.Span.Fill((float)Math.Log(prior / (1 - prior)));
        return head;
    }

    /// <summary>
    /// The generator of a network's distillation heads, seeded by the network's name only: they never draw from the
    /// generator that initialises the served weights, so adding them changes no served weight of any network.
    /// </summary>
    public static Random DistillationRandom(string network) => new((int)(StableHash.Of("distillation", network) & int.MaxValue));
}
