using System.Diagnostics;
using System.Globalization;
using Mesh.Bench.Models;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Bench.Onnx;

/// <summary>
/// The ranking networks' ONNX graphs under ONNX Runtime's CUDA provider: candidates/s and latency per batch for a few
/// batch sizes, against the CPU provider on the same batches in the same run, whose outputs the CUDA ones must match
/// (max |difference| ≤ <see cref="GpuOptions.Tolerance"/>). Needs the build with <c>-p:OnnxRuntimeGpu=true</c>
/// (<c>bench/run.sh gpu</c>), an NVIDIA GPU and CUDA 13; without them it stops at once with exit code 3.
/// Inputs and outputs stay in host memory, as a ranker would hand them over: every batch pays its copies to and
/// from the device.
/// </summary>
public static class GpuBenchmark
{
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>The exit code where the CUDA provider is missing or does not start.</summary>
    public const int NoGpu = 3;

    /// <summary>Batches cycled through per batch size (distinct inputs, so that nothing is cached by accident).</summary>
    private const int Distinct = 2;

    public static int Run(string[] args)
    {
        var (options, error) = GpuOptions.Parse(args);
        if (options is null)
        {
            Console.Error.WriteLine($"error: {error}\n\n{GpuOptions.Help}");
            return 2;
        }

        var output = Console.Out;
        BenchOutput.WriteMachine(output, "gpu", TimeProvider.System);
        var providers = OrtEnv.Instance().GetAvailableProviders();
        output.WriteLine($"ort       ONNX Runtime {OrtEnv.Instance().GetVersionString()}; providers in this build: {string.Join(", ", providers)}");
        if (options.Provider == GpuProvider.Cuda && !providers.Contains(CudaProvider))
        {
            Console.Error.WriteLine($"error: this build of ONNX Runtime has no {CudaProvider}: build the bench with -p:OnnxRuntimeGpu=true (bench/run.sh gpu does)");
            return NoGpu;
        }

        // The provider is opened on a tiny graph before anything else: without a GPU, its driver or CUDA 13 this fails
        // in seconds, before the inputs are generated.
        try
        {
            using var probeOptions = Accelerated(options);
            using var probe = new OrtMatMul(8, new float[64], new float[64], new float[64], probeOptions);
            probe.Run();
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            Console.Error.WriteLine($"error: ONNX Runtime's CUDA provider did not start on device {options.Device}: {e.Message.Trim()}");
            Console.Error.WriteLine("       it needs an NVIDIA GPU with its driver, and the CUDA 13 runtime, cuBLAS and cuDNN 9 libraries on the library path (LD_LIBRARY_PATH)");
            return NoGpu;
        }

        output.WriteLine(options.Provider == GpuProvider.Cuda
            ? $"provider  CUDA, device {options.Device}, TF32 {(options.Tf32 ? "on" : "off")}; baseline: the CPU provider on {options.Threads} thread(s); inputs and outputs in host memory"
            : $"provider  DRY RUN: the CPU provider on {options.Threads} thread(s) in place of CUDA; baseline: the CPU provider on {options.Threads} thread(s)");
        output.WriteLine($"settings  {options.Warmup} warm-up + {options.Repetitions} timed batches on the accelerated session ({CpuRepetitions(options)} on the baseline), p50 and p99; outputs compared on every batch (max |diff| ≤ {GpuOptions.Tolerance:0E+0})");
        output.WriteLine();

        var results = new List<Result>();
        foreach (var model in options.Models)
        {
            foreach (var size in options.BatchSizes)
            {
                results.Add(Measure(model, size, options));
            }
        }

        BenchOutput.WriteLoad(output, "load at the end: ");
        Write(output, results);
        var wrong = results.Where(r => !(r.MaxAbsDifference <= GpuOptions.Tolerance)).ToList();
        foreach (var r in wrong)
        {
            Console.Error.WriteLine($"error: {r.Model.Key} at {r.BatchSize} candidates: the accelerated outputs differ from the CPU provider's by {r.MaxAbsDifference:E2} (over {GpuOptions.Tolerance:0E+0})");
        }

        return wrong.Count == 0 ? 0 : 1;
    }

    /// <summary>One network at one batch size: the accelerated session's p50 and p99 seconds per batch, the CPU provider's p50, and the largest output difference.</summary>
    public sealed record Result(BenchModel Model, int BatchSize, double P50, double P99, double CpuP50, double MaxAbsDifference)
    {
        public double PerSecond => BatchSize / P50;

        public double CpuPerSecond => BatchSize / CpuP50;
    }

    /// <summary>The session options of the measured provider: CUDA on the device (or the CPU provider for a dry run), every graph optimisation.</summary>
    public static SessionOptions Accelerated(GpuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Provider == GpuProvider.Cpu)
        {
            return OrtSessions.Cpu(options.Threads);
        }

        var session = new SessionOptions { ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["device_id"] = options.Device.ToString(CultureInfo.InvariantCulture),
                ["use_tf32"] = options.Tf32 ? "1" : "0",
            });
            session.AppendExecutionProvider_CUDA(cuda);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The largest |a − b| over both outputs of every batch, after one run of each session per batch.</summary>
    public static double MaxAbsDifference(OrtNetwork a, OrtNetwork b, int batches)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var worst = 0.0;
        for (var k = 0; k < batches; k++)
        {
            a.Run(k);
            b.Run(k);
            worst = Math.Max(worst, Max(a.Scores(k), b.Scores(k)));
            worst = Math.Max(worst, Max(a.Logits(k), b.Logits(k)));
        }

        return worst;

        // NaN anywhere makes the difference NaN, which fails the check.
        static double Max(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
        {
            var max = 0.0;
            for (var i = 0; i < x.Length; i++)
            {
                var d = Math.Abs((double)x[i] - y[i]);
                max = double.IsNaN(d) ? double.NaN : Math.Max(max, d);
                if (double.IsNaN(max))
                {
                    return max;
                }
            }

            return max;
        }
    }

    private static int CpuRepetitions(GpuOptions options) => Math.Clamp(options.Repetitions / 20, 5, 20);

    private static Result Measure(BenchModel model, int size, GpuOptions options)
    {
        var (requests, candidates) = GpuOptions.Shape(size);
        var batches = ThroughputBenchmark.Inputs(ThroughputOptions.Infer with { Requests = requests, Candidates = candidates, Seed = options.Seed }, served: true, count: Distinct);
        var rng = new Random(options.Seed);
        var network = BenchModels.WithoutZeroParameters(model.Create(rng), rng);
        using var cpuOptions = OrtSessions.Cpu(options.Threads);
        using var cpu = new OrtNetwork(network, batches, cpuOptions);
        using var acceleratedOptions = Accelerated(options);
        using var accelerated = new OrtNetwork(network, batches, acceleratedOptions);

        var difference = MaxAbsDifference(cpu, accelerated, batches.Count);
        var gpuTimes = Time(accelerated, batches.Count, options.Warmup, options.Repetitions);
        var cpuTimes = Time(cpu, batches.Count, 2, CpuRepetitions(options));
        return new Result(model, batches[0].Candidates, BenchStatistics.Percentile(gpuTimes, 0.5), BenchStatistics.Percentile(gpuTimes, 0.99),
            BenchStatistics.Percentile(cpuTimes, 0.5), difference);
    }

    private static List<double> Time(OrtNetwork session, int batches, int warmup, int repetitions)
    {
        for (var r = 0; r < warmup; r++)
        {
            session.Run(r % batches);
        }

        var times = new List<double>(repetitions);
        for (var r = 0; r < repetitions; r++)
        {
            var start = Stopwatch.GetTimestamp();
            session.Run(r % batches);
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return times;
    }

    private static void Write(TextWriter output, IReadOnlyList<Result> results)
    {
        output.WriteLine($"{"model",-13}{"batch",7}{"ms p50",9}{"ms p99",9}{"candidates/s",14}{"CPU ms p50",12}{"CPU cand./s",13}{"vs CPU",9}{"max |diff|",12}");
        foreach (var r in results)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model.Key,-13}{r.BatchSize,7}{r.P50 * 1e3,9:F3}{r.P99 * 1e3,9:F3}{r.PerSecond,14:F0}{r.CpuP50 * 1e3,12:F2}{r.CpuPerSecond,13:F0}{r.PerSecond / r.CpuPerSecond,9:F2}{r.MaxAbsDifference,12:E1}"));
        }

        output.WriteLine();
        output.WriteLine("batch: candidates (one request up to 512, else requests of 512); ms: wall time of one session run, host copies included; vs CPU: candidates/s over the CPU provider's");
        output.WriteLine();
        foreach (var r in results)
        {
            var name = $"gpu_{r.Model.Key}_{r.BatchSize}";
            BenchOutput.WriteFigure(output, $"{name}_candidates_per_s", r.PerSecond, "candidates/s");
            BenchOutput.WriteFigure(output, $"{name}_p50_ms", r.P50 * 1e3, "ms");
            BenchOutput.WriteFigure(output, $"{name}_p99_ms", r.P99 * 1e3, "ms");
            BenchOutput.WriteFigure(output, $"{name}_cpu_candidates_per_s", r.CpuPerSecond, "candidates/s");
            BenchOutput.WriteFigure(output, $"{name}_vs_cpu", r.PerSecond / r.CpuPerSecond, "ratio");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{BenchOutput.Prefix} {name}_max_abs_diff {r.MaxAbsDifference:0.0E+0} abs"));
        }
    }
}
