using Mesh.Bench;
using Mesh.Bench.Gemm;
using Mesh.Bench.Load;

// One class per benchmark; infer, train and quality join this switch when they exist.
return args.Length == 0 ? Usage(Console.Error) : args[0] switch
{
    "load" => await LoadBenchmark.RunAsync(args[1..]),
    "gemm" => GemmBenchmark.Run(args[1..]),
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
    writer.WriteLine("  load   throughput and latency of POST /v1/rank on the standalone host, against POST /bench/bare-rank");
    writer.WriteLine("  gemm   GFLOP/s of the learning engine's GEMM, against OpenBLAS's cblas_sgemm in the same run when present");
    writer.WriteLine();
    writer.WriteLine(LoadOptions.Help);
    writer.WriteLine();
    writer.WriteLine(GemmOptions.Help);
    writer.WriteLine();
    writer.WriteLine($"Figures are printed as '{BenchOutput.Prefix} <name> <value> <unit>' lines; compare ratios, not absolute timings.");
    return error is null ? 0 : 2;
}
