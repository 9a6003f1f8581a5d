using Mesh.Learning;
using Mesh.Learning.Layers;
using Mesh.Learning.Optim;

namespace Mesh.Models.Distillation;

/// <summary>
/// ExFM's student adapter (SA): a small MLP that maps the foundation model's (possibly stale) prediction to a fresh
/// one, trained on fresh click labels, h(ŷ_SA, y). On logits: ŷ_SA = z_F + MLP(z_F) with z_F = logit(ŷ_F), the MLP
/// 1 → <c>hidden</c> → 1 (ReLU) with a zero last layer, so an untrained adapter passes the teacher through unchanged
/// and learns only the correction that fresh labels ask for. Owns its optimizer (Adam). Not thread-safe.
/// </summary>
public sealed class StudentAdapter : Module
{
    // Teacher probabilities are clamped to [Epsilon, 1 - Epsilon] before the logit: |z_F| ≤ about 13.8.
    private const float Epsilon = 1e-6f;

    private readonly Mlp _mlp;
    private readonly Adam _adam;
    private readonly Graph _graph = new(training: true);
    private readonly Graph _inference = new(training: false);

    /// <param name="name">Parameter-name prefix (checkpoints).</param>
    /// <param name="hidden">The MLP's hidden width.</param>
    /// <param name="learningRate">Adam's step.</param>
    /// <param name="rng">Seeded initialisation of the hidden layer.</param>
    public StudentAdapter(string name, int hidden, float learningRate, Random rng)
        : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        _mlp = AddModule(new Mlp($"{name}.mlp", [1, hidden, 1], rng));
        _mlp.Layers[^1].Weight.Value.Span.Clear();
        _adam = new Adam(Parameters, learningRate);
    }

    /// <summary>Adapter steps taken (batches with at least one teacher prediction).</summary>
    public long Steps { get; private set; }

    /// <summary>logit(clamp(p)) of a teacher probability.</summary>
    public static float Logit(float probability)
    {
        var p = Math.Clamp(probability, Epsilon, 1 - Epsilon);
        return MathF.Log(p / (1 - p));
    }

    /// <summary>Adapter logits (N) of teacher logits (N): z_F + MLP(z_F).</summary>
    public Tensor Forward(Graph g, Tensor teacherLogits)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(teacherLogits);
        var n = teacherLogits.Length;
        var correction = _mlp.Forward(g, g.Reshape(teacherLogits, new Shape(n, 1)));
        return g.Add(teacherLogits, g.Reshape(correction, new Shape(n)));
    }

    /// <summary>
    /// One Adam step on h(ŷ_SA, y) over the rows that have a teacher prediction (<paramref name="teacher"/> probabilities,
    /// NaN where none). Returns the loss before the step; 0 and no step when no row has a teacher.
    /// </summary>
    public double Step(ReadOnlySpan<float> teacher, ReadOnlySpan<float> labels)
    {
        if (teacher.Length != labels.Length)
        {
            throw new ArgumentException($"{teacher.Length} teacher predictions for {labels.Length} labels", nameof(teacher));
        }

        var g = _graph;
        g.Reset();
        var n = teacher.Length;
        var logits = g.Input(new Shape(n));
        var weights = g.Input(new Shape(n));
        var any = false;
        for (var i = 0; i < n; i++)
        {
            if (!float.IsNaN(teacher[i]))
            {
                logits[i] = Logit(teacher[i]);
                weights[i] = 1f;
                any = true;
            }
        }

        if (!any)
        {
            return 0;
        }

        var loss = g.BceWithLogits(Forward(g, logits), g.Input(labels, new Shape(n)), weights);
        var value = loss[0];
        _adam.ZeroGrad();
        g.Backward(loss);
        _adam.Step();
        g.Reset();
        Steps++;
        return value;
    }

    /// <summary>σ(ŷ_SA) of teacher probabilities into <paramref name="probabilities"/> (NaN stays NaN); no gradient.</summary>
    public void Predict(ReadOnlySpan<float> teacher, Span<float> probabilities)
    {
        if (teacher.Length != probabilities.Length)
        {
            throw new ArgumentException($"{teacher.Length} teacher predictions for {probabilities.Length} outputs", nameof(probabilities));
        }

        var g = _inference;
        g.Reset();
        var logits = g.Input(new Shape(teacher.Length));
        for (var i = 0; i < teacher.Length; i++)
        {
            logits[i] = float.IsNaN(teacher[i]) ? 0f : Logit(teacher[i]);
        }

        System.Numerics.Tensors.TensorPrimitives.Sigmoid(Forward(g, logits).Span, probabilities);
        for (var i = 0; i < teacher.Length; i++)
        {
            if (float.IsNaN(teacher[i]))
            {
                probabilities[i] = float.NaN;
            }
        }

        g.Reset();
    }
}
