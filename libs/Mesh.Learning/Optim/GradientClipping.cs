namespace Mesh.Learning.Optim;

public static class GradientClipping
{
    /// <summary>
    /// Scales every gradient (dense and sparse rows alike) by <c>maxNorm / norm</c> when their global L2 norm is above
    /// <paramref name="maxNorm"/>. Returns the norm before clipping (a useful training signal to log).
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        var list = parameters as IReadOnlyList<Parameter> ?? [.. parameters];
        var sumOfSquares = 0.0;
        foreach (var p in list)
        {
            ForEachGradient(p, g => sumOfSquares += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(g));
        }

        var norm = Math.Sqrt(sumOfSquares);
        if (norm > maxNorm && norm > 0)
        {
            var scale = (float)(maxNorm / norm);
            foreach (var p in list)
            {
                ForEachGradient(p, g => System.Numerics.Tensors.TensorPrimitives.Multiply(g, scale, g));
            }
        }

        return norm;
    }

    private delegate void GradientAction(Span<float> gradient);

    private static void ForEachGradient(Parameter p, GradientAction action)
    {
        if (p.RowGrad is { } rows)
        {
            for (var slot = 0; slot < rows.Count; slot++)
            {
                action(rows.Values(slot));
            }
        }
        else
        {
            action(p.Value.Grad!.Span);
        }
    }
}
