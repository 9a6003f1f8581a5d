using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using Mesh.Learning.Kernels;
using EngineGemm = Mesh.Learning.Kernels.Gemm;

namespace Mesh.Bench.Gemm;

/// <summary>
/// GFLOP/s of the engine's GEMM (<see cref="EngineGemm"/>, C = A · B, row-major) per shape and thread count, against OpenBLAS's
/// <c>cblas_sgemm</c> on the same operands in the same run when <c>libopenblas.so.0</c> loads. The two are timed in
/// alternation, repetition by repetition, so that a burst of other work on a shared machine lands on both; each figure
/// is the median. The ratio (ours / OpenBLAS) is the figure to compare across runs and machines.
/// </summary>
public static class GemmBenchmark
{
    public static int Run(string[] args)
    {
        var (options, error) = GemmOptions.Parse(args);
        if (options is null)
        {
            Console.Error.WriteLine($"error: {error}\n\n{GemmOptions.Help}");
            return 2;
        }

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "gemm", TimeProvider.System);
        output.WriteLine($"cpu       {CpuModel()}; AVX2 {(System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "yes" : "no")}, AVX-512F {(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "yes" : "no")}, Vector512 accelerated {(Vector512.IsHardwareAccelerated ? "yes" : "no")}");
        output.WriteLine($"engine    Mesh.Learning GEMM, {EngineGemm.Best} micro-kernel (Auto)");
        var blas = OpenBlas.TryLoad();
        output.WriteLine(blas is null
            ? $"openblas  not found ({OpenBlas.LibraryName}): install it with `{OpenBlas.InstallHint}` for the ratios; measuring the engine alone"
            : $"openblas  {OpenBlas.LibraryName}, core {blas.CoreName}, {blas.Config.Trim()}; {OpenBlas.ThreadTimeoutVariable}={OpenBlas.ThreadTimeout}");
        var overrides = OpenBlas.KernelOverrides();
        if (blas is not null)
        {
            output.WriteLine(overrides.Count == 0
                ? $"kernel    OpenBLAS ran its {blas.CoreName} kernel, its own choice for this CPU ({string.Join(" and ", OpenBlas.KernelVariables)} unset)"
                : $"kernel    OpenBLAS ran its {blas.CoreName} kernel, FORCED by {string.Join(", ", overrides)}: the ratios are against a kernel OpenBLAS would not pick; run through bench/run.sh gemm, which unsets them");
        }

        var threads = options.Threads.Where(t => t <= Environment.ProcessorCount).DefaultIfEmpty(1).Distinct().ToArray();
        output.WriteLine($"settings  {options.Warmup} warm-up + {options.Repetitions} timed repetitions, median; threads {string.Join(", ", threads)}; C = A · B, alpha 1, beta 0");
        output.WriteLine();

        // The alternative kernel: where Vector512 runs, how much of its gain AVX2 alone would give.
        GemmKernel? other = EngineGemm.Best == GemmKernel.Vector512 ? GemmKernel.Vector256 : null;
        var results = new List<Result>();
        var rng = new Random(1);
        foreach (var shape in options.Shapes)
        {
            var a = RandomMatrix(rng, shape.M * shape.K);
            var b = RandomMatrix(rng, shape.K * shape.N);
            var ours = new float[shape.M * shape.N];
            var theirs = new float[shape.M * shape.N];
            foreach (var t in threads)
            {
                blas?.SetThreads(t);
                var timings = new List<double>[3] { [], [], [] };
                for (var r = -options.Warmup; r < options.Repetitions; r++)
                {
                    var engine = Time(() => EngineGemm.Multiply(Transpose.No, Transpose.No, shape.M, shape.N, shape.K, 1f, a, shape.K, b, shape.N, 0f, ours, shape.N, t));
                    var reference = blas is null ? double.NaN : Time(() => blas.Multiply(shape.M, shape.N, shape.K, a, b, theirs));
                    var alternative = other is { } kernel
                        ? Time(() => EngineGemm.Multiply(Transpose.No, Transpose.No, shape.M, shape.N, shape.K, 1f, a, shape.K, b, shape.N, 0f, ours, shape.N, t, kernel))
                        : double.NaN;
                    if (r >= 0)
                    {
                        timings[0].Add(engine);
                        timings[1].Add(reference);
                        timings[2].Add(alternative);
                    }
                }

                // The engine's last product against OpenBLAS's: a wrong result would make any speed meaningless.
                var difference = blas is null ? double.NaN : MaxRelativeDifference(ours, theirs);
                results.Add(new Result(shape, t, shape.Flops / BenchStatistics.Percentile(timings[0], 0.5) / 1e9, shape.Flops / BenchStatistics.Percentile(timings[1], 0.5) / 1e9,
                    shape.Flops / BenchStatistics.Percentile(timings[2], 0.5) / 1e9, difference));
            }
        }

        BenchOutput.WriteLoad(output, "load at the end: ");
        WriteTable(output, results, blas is not null, other);
        foreach (var r in results)
        {
            var name = $"{r.Shape.Name}_{r.Threads}t";
            BenchOutput.WriteFigure(output, $"gemm_{name}_gflops", r.Ours, "GFLOP/s");
            if (blas is not null)
            {
                BenchOutput.WriteFigure(output, $"openblas_{name}_gflops", r.OpenBlas, "GFLOP/s");
                BenchOutput.WriteFigure(output, $"gemm_{name}_vs_openblas", r.Ours / r.OpenBlas, "ratio");
            }

            if (other is not null)
            {
                BenchOutput.WriteFigure(output, $"gemm_{name}_v256_gflops", r.Other, "GFLOP/s");
            }
        }

        var wrong = results.Where(r => r.Difference > 1e-4).ToList();
        foreach (var r in wrong)
        {
            Console.Error.WriteLine($"error: {r.Shape.Name} on {r.Threads} thread(s) differs from OpenBLAS by {r.Difference:E2} (relative)");
        }

        return wrong.Count == 0 ? 0 : 1;
    }

    private sealed record Result(GemmShape Shape, int Threads, double Ours, double OpenBlas, double Other, double Difference);

    private static void WriteTable(TextWriter output, IReadOnlyList<Result> results, bool withBlas, GemmKernel? other)
    {
        var header = $"{"M x N x K",-18}{"threads",8}{"engine GFLOP/s",16}";
        header += withBlas ? $"{"OpenBLAS GFLOP/s",18}{"engine/OpenBLAS",17}" : "";
        header += other is not null ? $"{"engine " + other + " GFLOP/s",26}" : "";
        header += withBlas ? $"{"max rel. diff",15}" : "";
        output.WriteLine(header);
        foreach (var r in results)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"{$"{r.Shape.M} x {r.Shape.N} x {r.Shape.K}",-18}{r.Threads,8}{r.Ours,16:F1}");
            line += withBlas ? string.Create(CultureInfo.InvariantCulture, $"{r.OpenBlas,18:F1}{r.Ours / r.OpenBlas,17:F3}") : "";
            line += other is not null ? string.Create(CultureInfo.InvariantCulture, $"{r.Other,26:F1}") : "";
            line += withBlas ? string.Create(CultureInfo.InvariantCulture, $"{r.Difference,15:E1}") : "";
            output.WriteLine(line);
        }

        output.WriteLine();
    }

    private static double Time(Action action)
    {
        var start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary><paramref name="count"/> values uniform in [-1, 1): a GEMM operand whose values do not matter to its time.</summary>
    public static float[] RandomMatrix(Random rng, int count)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return values;
    }

    // max |ours - theirs| / max |theirs|: both sum the same products in different orders.
    private static double MaxRelativeDifference(float[] ours, float[] theirs)
    {
        double diff = 0, scale = 0;
        for (var i = 0; i < ours.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(ours[i] - theirs[i]));
            scale = Math.Max(scale, Math.Abs(theirs[i]));
        }

        return scale > 0 ? diff / scale : diff;
    }

    private static string CpuModel()
    {
        const string CpuInfo = "/proc/cpuinfo";
        var line = File.Exists(CpuInfo) ? File.ReadLines(CpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }
}
