using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Serving.Inference;

/// <summary>The exported graphs' inputs (<see cref="OnnxNames"/>) over a <see cref="RankingBatch"/>'s arrays, without a copy.</summary>
public static class BatchInputs
{
    /// <summary>
    /// The tensor behind <paramref name="name"/>, over the batch's own array: the value reads it when the session runs,
    /// so the batch must outlive the run. <c>user_embedding</c> is the batch's served embeddings; <c>feature.&lt;name&gt;</c>
    /// is the batch's column of that configured feature.
    /// </summary>
    public static OrtValue Create(RankingBatch batch, string name)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return Create(batch, name, batch.ServedEmbeddings);
    }

    /// <summary>As <see cref="Create(RankingBatch, string)"/>, with <paramref name="userEmbeddings"/> (R × 32) for <c>user_embedding</c>.</summary>
    public static OrtValue Create(RankingBatch batch, string name, float[] userEmbeddings)
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
            OnnxNames.UserEmbedding => OrtValue.CreateTensorValueFromMemory(userEmbeddings, [r, FeatureSpace.UserEmbeddingDimension]),
            OnnxNames.RequestOf => Ints(batch.RequestOf, n),
            OnnxNames.AdIds => Ints(batch.AdIds, n),
            OnnxNames.Categories => Ints(batch.Categories, n),
            OnnxNames.Precomputed => OrtValue.CreateTensorValueFromMemory(batch.Precomputed, [n, FeatureSpace.PrecomputedDimension + 1]),
            OnnxNames.SequenceCategories => Ints(batch.SequenceCategories, r, T),
            OnnxNames.SequenceKinds => Ints(batch.SequenceKinds, r, T),
            OnnxNames.SequenceAges => Ints(batch.SequenceAges, r, T),
            _ when name.StartsWith(OnnxNames.FeaturePrefix, StringComparison.Ordinal) => Feature(batch, name[OnnxNames.FeaturePrefix.Length..]),
            _ => throw new KeyNotFoundException($"'{name}' is not an input the ranking graphs declare"),
        };
    }

    private static OrtValue Feature(RankingBatch batch, string name)
    {
        var column = batch.Features.FirstOrDefault(c => c.Field.Name == name)
            ?? throw new KeyNotFoundException($"the graphs read feature '{name}', which the batch was not encoded with ({batch.Schema})");
        return column.Field.Kind == FeatureKind.Categorical
            ? Ints(column.Ids, column.Rows, column.Field.MaxValues)
            : OrtValue.CreateTensorValueFromMemory(column.Values, [column.Rows, 2]);
    }

    private static OrtValue Ints(int[] values, params long[] shape) => OrtValue.CreateTensorValueFromMemory(values, shape);
}
