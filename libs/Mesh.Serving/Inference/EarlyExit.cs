using Mesh.Models.Networks;

namespace Mesh.Serving.Inference;

/// <summary>
/// <see cref="Dhen.ScoreWithEarlyExit"/>'s rule applied to a graph's outputs: the heads' logits of one request's
/// candidates, every head computed. Head by head, a candidate the rule rules out keeps that head's probability; the rest
/// go on to the next head. The scores are the engine's; the compute the rule would save is not, the graph having run.
/// </summary>
public static class EarlyExit
{
    /// <summary>
    /// logits: (count, heads), row-major; writes the probabilities into <paramref name="scores"/> (count) and returns the
    /// candidate-layers computed (count × heads).
    /// </summary>
    public static long Apply(ReadOnlySpan<float> logits, int heads, EarlyExitRule? exit, Span<float> scores)
    {
        var count = scores.Length;
        if (exit is not { } rule || heads == 1)
        {
            for (var i = 0; i < count; i++)
            {
                scores[i] = Sigmoid(logits[(i * heads) + heads - 1]);
            }

            return (long)count * heads;
        }

        // One request: every candidate maps to request 0.
        var requestOf = new int[count];
        var active = Enumerable.Range(0, count).ToArray();
        var probabilities = new float[count];
        for (var l = 0; l < heads; l++)
        {
            var p = probabilities.AsSpan(0, active.Length);
            for (var i = 0; i < active.Length; i++)
            {
                p[i] = Sigmoid(logits[(active[i] * heads) + l]);
                scores[active[i]] = p[i]; // overwritten by a later head when the candidate goes on
            }

            if (l == heads - 1)
            {
                break;
            }

            var keep = rule.Survivors(p, active, requestOf);
            if (keep.Length == 0)
            {
                break;
            }

            active = [.. keep.Select(i => active[i])];
        }

        return (long)count * heads;
    }

    // The engine's logistic (TensorPrimitives.Sigmoid), so a score here equals the engine's bit for bit given the same logit.
    private static float Sigmoid(float x)
    {
        Span<float> value = [x];
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(value, value);
        return value[0];
    }
}
