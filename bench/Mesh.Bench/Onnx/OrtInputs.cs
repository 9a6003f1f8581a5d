using Mesh.Models.Features;
using Mesh.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Bench.Onnx;

/// <summary>A <see cref="RankingBatch"/>'s arrays as the inputs of the exported graphs (<see cref="OnnxNames"/>).</summary>
public static class OrtInputs
{
    /// <summary>
    /// The batch's array behind an input name, as a tensor over that array (no copy): the value reads the array as it is
    /// when the session runs, so the batch must outlive it. The same mapping as the ONNX export tests use.
    /// </summary>
    public static OrtValue Create(RankingBatch batch, string name)
    {
        ArgumentNullException.ThrowIfNull(batch);
        const int T = FeatureSpace.SequenceLength;
        long r = batch.Requests, n = batch.Candidates;
        return name switch
        {
            OnnxNames.UserIds => Ints(batch.UserIds, r),
            OnnxNames.Surfaces => Ints(batch.Surfaces, r),
            OnnxNames.Devices => Ints(batch.Devices, r),
            OnnxNames.Hours => Ints(batch.Hours, r),
            OnnxNames.UserEmbedding => OrtValue.CreateTensorValueFromMemory(batch.ServedEmbeddings, [r, FeatureSpace.UserEmbeddingDimension]),
            OnnxNames.RequestOf => Ints(batch.RequestOf, n),
            OnnxNames.AdIds => Ints(batch.AdIds, n),
            OnnxNames.Categories => Ints(batch.Categories, n),
            OnnxNames.Precomputed => OrtValue.CreateTensorValueFromMemory(batch.Precomputed, [n, FeatureSpace.PrecomputedDimension + 1]),
            OnnxNames.SequenceCategories => Ints(batch.SequenceCategories, r, T),
            OnnxNames.SequenceKinds => Ints(batch.SequenceKinds, r, T),
            OnnxNames.SequenceAges => Ints(batch.SequenceAges, r, T),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not an input of the exported graphs"),
        };
    }

    private static OrtValue Ints(int[] values, params long[] shape) => OrtValue.CreateTensorValueFromMemory(values, shape);
}
