using System.Globalization;

namespace Mesh.Bench;

/// <summary>
/// CPU time the whole machine spent busy, from <c>/proc/stat</c> (Linux only; 10 ms resolution). Minus what the
/// benchmark and its host used, it tells how much other work shared the machine while a figure was measured.
/// </summary>
public static class MachineCpu
{
    private const string Stat = "/proc/stat";

    // /proc/stat counts in USER_HZ, 100 per second on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    // Of the first line, "cpu  user nice system idle iowait irq softirq steal guest guest_nice": the busy ones. Guest
    // time is already counted in user.
    private static readonly int[] BusyFields = [1, 2, 3, 6, 7, 8];

    /// <summary>Busy time summed over all cores since boot (user, nice, system, irq, softirq, steal); null off Linux.</summary>
    public static TimeSpan? Busy()
    {
        if (!File.Exists(Stat))
        {
            return null;
        }

        var fields = File.ReadLines(Stat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = BusyFields.Where(i => i < fields.Length).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }
}
