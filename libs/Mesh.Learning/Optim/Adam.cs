namespace Mesh.Learning.Optim;

/// <summary>
/// Adam for dense parameters, with decoupled weight decay (AdamW) when <see cref="WeightDecay"/> is above 0:
/// <c>w -= lr · (m̂ / (sqrt(v̂) + eps) + weightDecay · w)</c>. Defaults: lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8,
/// weight decay 0. Sparse parameters belong to <see cref="RowwiseAdagrad"/>.
/// </summary>
public sealed class Adam
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _m;
    private readonly Tensor[] _v;

    public Adam(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float epsilon = 1e-8f, float weightDecay = 0f)
    {
        _parameters = [.. parameters];
        foreach (var p in _parameters)
        {
            if (p.IsSparse)
            {
                throw new ArgumentException($"{p.Name} is sparse: train embedding tables with RowwiseAdagrad", nameof(parameters));
            }
        }

        _m = [.. _parameters.Select(p => new Tensor(p.Shape))];
        _v = [.. _parameters.Select(p => new Tensor(p.Shape))];
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
    }

    public float LearningRate { get; set; }

    public float Beta1 { get; }

    public float Beta2 { get; }

    public float Epsilon { get; }

    public float WeightDecay { get; set; }

    /// <summary>Steps taken (the t of the bias correction); restored from a checkpoint with the moments.</summary>
    public long Steps { get; set; }

    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The moment estimates, named <c>adam.m.&lt;parameter&gt;</c> and <c>adam.v.&lt;parameter&gt;</c>, to checkpoint and restore.</summary>
    public IEnumerable<(string Name, Tensor Value)> State()
    {
        for (var i = 0; i < _parameters.Length; i++)
        {
            yield return ($"adam.m.{_parameters[i].Name}", _m[i]);
            yield return ($"adam.v.{_parameters[i].Name}", _v[i]);
        }
    }

    /// <summary>One update from the accumulated gradients; does not zero them.</summary>
    public void Step()
    {
        Steps++;
        var correction1 = 1 - Math.Pow(Beta1, Steps);
        var correction2 = 1 - Math.Pow(Beta2, Steps);
        // lr · m̂ / (sqrt(v̂) + eps) = stepSize · m / (sqrt(v) + eps · sqrt(c2)), with stepSize = lr · sqrt(c2) / c1.
        var stepSize = (float)(LearningRate * Math.Sqrt(correction2) / correction1);
        var eps = (float)(Epsilon * Math.Sqrt(correction2));
        var decay = LearningRate * WeightDecay;
        for (var i = 0; i < _parameters.Length; i++)
        {
            var w = _parameters[i].Value.Span;
            ReadOnlySpan<float> g = _parameters[i].Value.Grad!.Span;
            Span<float> m = _m[i].Span, v = _v[i].Span;
            for (var j = 0; j < w.Length; j++)
            {
                m[j] = Beta1 * m[j] + (1 - Beta1) * g[j];
                v[j] = Beta2 * v[j] + (1 - Beta2) * g[j] * g[j];
                w[j] -= stepSize * m[j] / (MathF.Sqrt(v[j]) + eps) + decay * w[j];
            }
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            p.ZeroGrad();
        }
    }
}
