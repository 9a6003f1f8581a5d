using System.Globalization;
using System.Runtime.InteropServices;

namespace Mesh.Bench;

/// <summary>
/// What every benchmark prints: the machine and date first (a figure means little without them), a table for people,
/// then one <c>BENCH name value unit</c> line per figure for scripts. Values use the invariant culture.
/// </summary>
public static class BenchOutput
{
    public const string Prefix = "BENCH";

    public static void WriteMachine(TextWriter writer, string benchmark, TimeProvider clock)
    {
        writer.WriteLine($"Mesh benchmark: {benchmark}");
        writer.WriteLine($"date      {clock.GetUtcNow().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC");
        writer.WriteLine($"machine   {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})");
        writer.WriteLine($"runtime   {RuntimeInformation.FrameworkDescription}");
        WriteLoad(writer, "load      ");
    }

    /// <summary>
    /// The 1, 5 and 15 minute load averages (Linux only): on a shared machine, a run begun or ended under other work
    /// is the first suspect when its figures disagree with the last run's.
    /// </summary>
    public static void WriteLoad(TextWriter writer, string label)
    {
        const string LoadAverage = "/proc/loadavg";
        if (File.Exists(LoadAverage))
        {
            var fields = File.ReadAllText(LoadAverage).Split(' ');
            writer.WriteLine($"{label}{string.Join(' ', fields.Take(3))} (load average over 1, 5, 15 min)");
        }
    }

    /// <summary>Writes <c>BENCH name value unit</c>; <paramref name="name"/> is snake_case and stable across runs.</summary>
    public static void WriteFigure(TextWriter writer, string name, double value, string unit) =>
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Prefix} {name} {Format(value)} {unit}"));

    public static void WriteFigure(TextWriter writer, string name, long value, string unit) =>
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Prefix} {name} {value} {unit}"));

    /// <summary>Three decimals below 10, fewer above, none from 1000: the noise on a shared machine is larger than that.</summary>
    public static string Format(double value) => value switch
    {
        double.NaN => "nan",
        >= 1000 => value.ToString("F0", CultureInfo.InvariantCulture),
        >= 100 => value.ToString("F1", CultureInfo.InvariantCulture),
        >= 10 => value.ToString("F2", CultureInfo.InvariantCulture),
        _ => value.ToString("F3", CultureInfo.InvariantCulture),
    };
}
