namespace Mesh.Learning.Metrics;

/// <summary>One closed window of a progressive validation.</summary>
public sealed record WindowMetrics(long FirstExample, long Examples, double LogLoss, double NormalizedEntropy, double Auc, double Calibration, double BaseRate);

/// <summary>
/// Progressive validation on a stream: score each batch before training on it, add the scores here, and read the
/// metrics per window of <see cref="WindowSize"/> examples (the model keeps changing, so the latest windows say how
/// it does now) and over the whole stream (<see cref="Total"/>).
/// </summary>
public sealed class ProgressiveValidation(int windowSize)
{
    private readonly List<WindowMetrics> _windows = [];
    private long _windowStart;

    /// <summary>Examples per window.</summary>
    public int WindowSize { get; } = windowSize > 0 ? windowSize : throw new ArgumentOutOfRangeException(nameof(windowSize));

    public BinaryMetrics Total { get; } = new();

    /// <summary>The window being filled.</summary>
    public BinaryMetrics Current { get; } = new();

    public IReadOnlyList<WindowMetrics> Windows => _windows;

    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels, ReadOnlySpan<float> weights = default)
    {
        for (var i = 0; i < predictions.Length; i++)
        {
            var w = weights.IsEmpty ? 1f : weights[i];
            Current.Add(predictions[i], labels[i], w);
            Total.Add(predictions[i], labels[i], w);
            if (Current.Examples == WindowSize)
            {
                _windows.Add(new WindowMetrics(_windowStart, Current.Examples, Current.LogLoss, Current.NormalizedEntropy,
                    Current.Auc, Current.Calibration, Current.BaseRate));
                _windowStart += Current.Examples;
                Current.Reset();
            }
        }
    }
}
