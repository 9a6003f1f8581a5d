using Mesh.Bench;
using Mesh.Bench.Exfm;
using Mesh.Bench.Gemm;
using Mesh.Bench.Load;
using Mesh.Bench.Models;
using Mesh.Bench.Onnx;
using Mesh.Bench.Replay;

// One class per benchmark (infer and train share theirs).
return args.Length == 0 ? Usage(Console.Error) : args[0] switch
{
    "load" => await LoadBenchmark.RunAsync(args[1..]),
    "events" => await EventsBenchmark.RunAsync(args[1..]),
    "gemm" => GemmBenchmark.Run(args[1..]),
    "infer" or "train" => ThroughputBenchmark.Run(args[0], args[1..]),
    "quality" => QualityBenchmark.Run(args[1..]),
    "exfm" => ExfmBenchmark.Run(args[1..]),
    "gpu" => GpuBenchmark.Run(args[1..]),
    "replay" => await ReplayBenchmark.RunAsync(args[1..]),
    "-h" or "--help" or "help" => Usage(Console.Out),
    _ => Usage(Console.Error, $"unknown benchmark '{args[0]}'"),
};

static int Usage(TextWriter writer, string? error = null)
{
    if (error is not null)
    {
        writer.WriteLine($"error: {error}");
    }

    writer.WriteLine("usage: bench/run.sh <benchmark> [options]");
    writer.WriteLine();
    writer.WriteLine("benchmarks:");
    writer.WriteLine("  load     throughput and latency of POST /v1/rank on the standalone host, against POST /bench/bare-rank");
    writer.WriteLine("  events   throughput and latency of POST /v1/events on the standalone host with persistence on, against the same host without");
    writer.WriteLine("  gemm     GFLOP/s of the learning engine's GEMM, against OpenBLAS's cblas_sgemm in the same run when present");
    writer.WriteLine("  infer    candidates/s and model FLOP utilisation of the ranking networks' forward pass, against the 512³ GEMM in the same run");
    writer.WriteLine("  train    examples/s and model FLOP utilisation of a training step, against the 512³ GEMM in the same run");
    writer.WriteLine("  quality  NE, AUC and calibration of every model, one pass over the synthetic world, against the base rate and the planted optimum");
    writer.WriteLine("  exfm     ExFM's ablation on a drifting synthetic stream: a student without the foundation model, with KD, AH, AH + SA; the FM's NE, the transfer ratio, FM calls per example");
    writer.WriteLine("  replay   a log (CSV or JSON lines) replayed through the standalone host in event-time order: NE, AUC, calibration against three online baselines");
    writer.WriteLine("  gpu      candidates/s and latency of the ranking networks under ONNX Runtime's CUDA provider, against its CPU provider (needs a GPU build: bench/run.sh gpu)");
    writer.WriteLine();
    writer.WriteLine(LoadOptions.Help);
    writer.WriteLine();
    writer.WriteLine(EventsOptions.Help);
    writer.WriteLine();
    writer.WriteLine(GemmOptions.Help);
    writer.WriteLine();
    writer.WriteLine(ThroughputOptions.InferHelp);
    writer.WriteLine();
    writer.WriteLine(ThroughputOptions.TrainHelp);
    writer.WriteLine();
    writer.WriteLine(QualityOptions.Help);
    writer.WriteLine();
    writer.WriteLine(ExfmOptions.Help);
    writer.WriteLine();
    writer.WriteLine(GpuOptions.Help);
    writer.WriteLine();
    writer.WriteLine(ReplayOptions.Help);
    writer.WriteLine();
    writer.WriteLine($"Figures are printed as '{BenchOutput.Prefix} <name> <value> <unit>' lines; compare ratios, not absolute timings.");
    return error is null ? 0 : 2;
}
