namespace Mesh.Bench;

/// <summary>Summaries of repeated timings, shared by the benchmarks that time a kernel many times.</summary>
public static class BenchStatistics
{
    /// <summary>The <paramref name="q"/> quantile (0 to 1) of <paramref name="values"/>, interpolated linearly between the closest ranks; 0.5 is the median.</summary>
    public static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((position - low) * (sorted[high] - sorted[low]));
    }
}
