namespace Mesh.Bench;

/// <summary>Summaries of repeated timings: the kernel benchmarks' interpolated quantiles and the load benchmarks' nearest-rank latencies.</summary>
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

    /// <summary>
    /// Nearest-rank percentile <paramref name="p"/> (0 to 100) of latencies in Stopwatch ticks, sorted ascending, in ms;
    /// NaN when there are none. The load benchmarks report client latencies this way: every figure is a latency seen.
    /// </summary>
    public static double NearestRankMs(long[] sortedTicks, double p)
    {
        if (sortedTicks.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100 * sortedTicks.Length);
        return sortedTicks[Math.Clamp(rank - 1, 0, sortedTicks.Length - 1)] * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
    }
}
