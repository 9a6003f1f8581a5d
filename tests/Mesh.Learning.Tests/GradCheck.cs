namespace Mesh.Learning.Tests;

/// <summary>
/// The one gradient check every op test uses: the analytic gradient (the graph's backward pass) against central finite
/// differences.
/// </summary>
/// <remarks>
/// The engine computes in float32 only (training and serving share one code path), so the check perturbs the float
/// inputs and runs the float forward, and gets its precision elsewhere: the outputs are reduced in double to the scalar
/// <c>L = Σ r_i · y_i</c> with fixed random weights r (so every output element's gradient is checked, not only their
/// sum), and the derivative uses the fourth-order central stencil
/// <c>(-L(x+2h) + 8 L(x+h) - 8 L(x-h) + L(x-2h)) / 12h</c> with h = 2^-7. Its truncation error is O(h^4) ≈ 4e-9 and its
/// rounding error about ε_float · |L| / h ≈ 1e-5 relative, where a plain two-point difference in float would need a
/// smaller h and lose more to rounding. The comparison is the relative error of each input's whole gradient vector,
/// <c>|a - n| / max(|a|, |n|, floor)</c> (L2 norms), which a single ill-conditioned element cannot fail on its own;
/// the floor, a tenth of the largest input gradient of the check, keeps exactly-zero gradients (rounding noise only)
/// from failing on a relative error of 1.
/// Inputs must keep away from kinks (ReLU at 0) by more than 2h.
/// </remarks>
public static class GradCheck
{
    public const float Step = 1f / 128;

    /// <summary>
    /// Checks d(Σ r·forward)/d(input) for every input; returns the analytic gradients (input order, dense).
    /// <paramref name="forward"/> builds the op graph from the inputs' current values.
    /// </summary>
    public static float[][] Check(Func<Graph, Tensor> forward, IReadOnlyList<Parameter> inputs, int seed = 7, double tolerance = 1e-3)
    {
        var (analytic, numeric, _) = Run(forward, inputs, seed);
        // A gradient that is zero in exact arithmetic (a key bias under softmax) is all rounding noise numerically:
        // compare gradients far smaller than the largest one of the check against a tenth of that one instead.
        var floor = 0.1 * analytic.Max(Norm);
        for (var p = 0; p < inputs.Count; p++)
        {
            var error = RelativeError(analytic[p], numeric[p], floor);
            if (!(error <= tolerance))
            {
                var worst = Enumerable.Range(0, analytic[p].Length).MaxBy(i => Math.Abs(analytic[p][i] - numeric[p][i]));
                Assert.Fail($"gradient of {inputs[p].Name} {inputs[p].Shape}: relative error {error:E2} > {tolerance:E0}; " +
                    $"worst element {worst}: analytic {analytic[p][worst]:G6}, numeric {numeric[p][worst]:G6}");
            }
        }

        return analytic;
    }

    /// <summary>The analytic and the numerical gradients, unchecked, for tests of ops whose gradient is not the derivative.</summary>
    public static (float[][] Analytic, double[][] Numeric, float[] Seed) Run(Func<Graph, Tensor> forward, IReadOnlyList<Parameter> inputs, int seed = 7)
    {
        foreach (var p in inputs)
        {
            p.ZeroGrad();
        }

        var graph = new Graph(training: true);
        var output = forward(graph);
        var r = new float[output.Length];
        Init.Normal(r, new Random(seed), 1f);
        graph.Backward(output, r);
        var analytic = inputs.Select(p => p.GradToDense()).ToArray();

        var inference = new Graph(training: false);
        double Loss()
        {
            inference.Reset();
            var y = forward(inference).Span;
            var sum = 0.0;
            for (var i = 0; i < y.Length; i++)
            {
                sum += (double)r[i] * y[i];
            }

            return sum;
        }

        var numeric = new double[inputs.Count][];
        for (var p = 0; p < inputs.Count; p++)
        {
            var values = inputs[p].Value;
            numeric[p] = new double[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                var original = values[i];
                double At(float delta)
                {
                    values[i] = original + delta;
                    return Loss();
                }

                numeric[p][i] = (-At(2 * Step) + 8 * At(Step) - 8 * At(-Step) + At(-2 * Step)) / (12.0 * Step);
                values[i] = original;
            }
        }

        return (analytic, numeric, r);
    }

    public static double RelativeError(float[] analytic, double[] numeric, double floor = 0)
    {
        double diff = 0, a = 0, n = 0;
        for (var i = 0; i < analytic.Length; i++)
        {
            diff += Math.Pow(analytic[i] - numeric[i], 2);
            a += Math.Pow(analytic[i], 2);
            n += Math.Pow(numeric[i], 2);
        }

        var scale = Math.Max(Math.Sqrt(Math.Max(a, n)), Math.Max(floor, 1e-12));
        return Math.Sqrt(diff) / scale;
    }

    private static double Norm(float[] values) => Math.Sqrt(values.Sum(v => (double)v * v));
}
