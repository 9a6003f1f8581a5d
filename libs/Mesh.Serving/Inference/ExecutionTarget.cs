using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Serving.Inference;

/// <summary>Where a session runs: <c>cpu</c>, or <c>cuda:N</c> for GPU N (ONNX Runtime's CUDA provider).</summary>
public readonly record struct ExecutionTarget(string Provider, int Device)
{
    public static readonly ExecutionTarget Cpu = new("cpu", 0);

    public bool IsCuda => Provider == "cuda";

    /// <summary>Reads <c>cpu</c> or <c>cuda:N</c> (N ≥ 0); anything else is a configuration error.</summary>
    public static ExecutionTarget Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text == "cpu")
        {
            return Cpu;
        }

        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var device))
        {
            return new ExecutionTarget("cuda", device);
        }

        throw new FormatException($"'{text}' is not an execution target: use cpu or cuda:N");
    }

    /// <summary>
    /// Session options for this target: <paramref name="intraOpThreads"/> threads inside one run, sequential execution,
    /// every graph optimisation. A CUDA target throws <see cref="OnnxRuntimeException"/> where the provider cannot start
    /// (the CPU-only package, no driver, no CUDA libraries).
    /// </summary>
    public SessionOptions CreateSessionOptions(int intraOpThreads)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };

        // Idle pool threads sleep instead of spinning: on a few cores the trainer and the other services need them.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        try
        {
            if (IsCuda)
            {
                options.AppendExecutionProvider_CUDA(Device);
            }

            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    public override string ToString() => IsCuda ? $"cuda:{Device}" : Provider;
}
