namespace Mesh.Runtime;

/// <summary>
/// The newest <c>capacity</c> values of one measure (a latency, an age) for the percentiles of <c>/v1/stats</c>, and the
/// count and mean over every value ever added. Not thread-safe: its owner adds and summarizes under its own lock.
/// </summary>
public sealed class RecentSamples(int capacity = 10_000)
{
    private readonly double[] _window = new double[capacity];
    private double _sum;

    /// <summary>Values added, in all.</summary>
    public long Count { get; private set; }

    public void Add(double value)
    {
        _window[Count % _window.Length] = value;
        Count++;
        _sum += value;
    }

    /// <summary>
    /// The mean of every value, and the percentiles and maximum of the newest ones (nearest rank), each rounded to
    /// <paramref name="digits"/>; zeros before the first value.
    /// </summary>
    public SampleSummary Summarize(int digits)
    {
        var sorted = _window.AsSpan(0, (int)Math.Min(Count, _window.Length)).ToArray();
        Array.Sort(sorted);
        double At(double q) => sorted.Length == 0 ? 0 : Math.Round(sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(q * sorted.Length))], digits);
        return new SampleSummary(
            Count == 0 ? 0 : Math.Round(_sum / Count, digits), At(0.50), At(0.90), At(0.99), sorted.Length == 0 ? 0 : Math.Round(sorted[^1], digits));
    }
}

/// <summary>What <see cref="RecentSamples.Summarize"/> reports.</summary>
public readonly record struct SampleSummary(double Mean, double P50, double P90, double P99, double Max);
