using Google.Protobuf;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Onnx;
using Mesh.Serving.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Bench.Onnx;

/// <summary>
/// One ranking network's exported graph (<see cref="RankingOnnx.Network"/>) in an ONNX Runtime session, with every
/// batch's inputs and outputs allocated once (the inputs over the batches' own arrays), so that <see cref="Run"/>
/// times the session alone, as a server that reuses its buffers would run it.
/// </summary>
public sealed class OrtNetwork : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames = [OnnxNames.Logits, OnnxNames.Score];
    private readonly List<OrtValue[]> _inputs = [];
    private readonly List<OrtValue[]> _outputs = [];
    private readonly List<float[]> _scores = [];
    private readonly List<float[]> _logits = [];

    /// <param name="network">The network to export; its weights at this moment are the graph's.</param>
    /// <param name="batches">The batches <see cref="Run"/> takes by index; they must outlive this object.</param>
    /// <param name="options">The session's options (for example <see cref="OrtSessions.Cpu"/>); the caller keeps and disposes them.</param>
    public OrtNetwork(RankingNetwork network, IReadOnlyList<RankingBatch> batches, SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(batches);
        _session = new InferenceSession(RankingOnnx.Network(network).ToByteArray(), options);
        _inputNames = [.. _session.InputNames];
        Heads = (int)_session.OutputMetadata[OnnxNames.Logits].Dimensions[1];
        foreach (var batch in batches)
        {
            var scores = new float[batch.Candidates];
            var logits = new float[batch.Candidates * Heads];
            _scores.Add(scores);
            _logits.Add(logits);
            _inputs.Add([.. _inputNames.Select(name => BatchInputs.Create(batch, name))]);
            _outputs.Add(
            [
                OrtValue.CreateTensorValueFromMemory(logits, [batch.Candidates, Heads]),
                OrtValue.CreateTensorValueFromMemory(scores, [batch.Candidates]),
            ]);
        }
    }

    /// <summary>Prediction heads of the graph: the columns of its <c>logits</c> output, the final head last.</summary>
    public int Heads { get; }

    /// <summary>Runs the session on batch <paramref name="index"/>, into that batch's <see cref="Scores"/> and <see cref="Logits"/>.</summary>
    public void Run(int index) => _session.Run(_run, _inputNames, _inputs[index], _outputNames, _outputs[index]);

    /// <summary>Batch <paramref name="index"/>'s click probabilities (N) from the last <see cref="Run"/> on it.</summary>
    public ReadOnlySpan<float> Scores(int index) => _scores[index];

    /// <summary>Batch <paramref name="index"/>'s logits (N, <see cref="Heads"/>), row-major, from the last <see cref="Run"/> on it.</summary>
    public ReadOnlySpan<float> Logits(int index) => _logits[index];

    public void Dispose()
    {
        foreach (var value in _inputs.Concat(_outputs).SelectMany(v => v))
        {
            value.Dispose();
        }

        _run.Dispose();
        _session.Dispose();
    }
}
