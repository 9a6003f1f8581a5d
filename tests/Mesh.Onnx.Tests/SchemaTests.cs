using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Onnx.Tests;

/// <summary>What a downstream team sees when it loads an exported file: the inputs and outputs <c>docs/models.md</c> documents.</summary>
public sealed class SchemaTests
{
    private static readonly string P = (FeatureSpace.PrecomputedDimension + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void UserTower_FromDisk_HasTheDocumentedInputsAndOutput()
    {
        using var session = Load(OnnxNames.UserTower);

        Assert.Equal(
            ["sequence_categories: Int32 [requests, 16]", "sequence_kinds: Int32 [requests, 16]", "sequence_ages: Int32 [requests, 16]"],
            Describe(session.InputMetadata));
        Assert.Equal(["user_embedding: Float [requests, 32]"], Describe(session.OutputMetadata));
        Assert.Equal("user-tower", session.ModelMetadata.CustomMetadataMap["mesh.graph"]);
        Assert.Equal("7", session.ModelMetadata.CustomMetadataMap["mesh.version"]);
    }

    [Theory]
    [InlineData(Tiers.Small, 1)]
    [InlineData(Tiers.Large, 3)]
    public void DhenTier_FromDisk_HasTheDocumentedInputsAndAHeadPerLayer(string tier, int heads)
    {
        using var session = Load(tier);

        Assert.Equal(
            [
                "user_ids: Int32 [requests]", "surfaces: Int32 [requests]", "devices: Int32 [requests]", "hours: Int32 [requests]",
                "user_embedding: Float [requests, 32]", "request_of: Int32 [candidates]", "ad_ids: Int32 [candidates]",
                "categories: Int32 [candidates]", $"precomputed: Float [candidates, {P}]",
            ],
            Describe(session.InputMetadata));
        Assert.Equal([$"logits: Float [candidates, {heads}]", "score: Float [candidates]"], Describe(session.OutputMetadata));
        Assert.Equal(("dhen", tier), (session.ModelMetadata.CustomMetadataMap["mesh.architecture"], session.ModelMetadata.CustomMetadataMap["mesh.graph"]));
    }

    [Fact]
    public void Tier_WithConfiguredFeatures_HasAnInputPerFeatureAndTheSchemaInItsMetadata()
    {
        using var session = Load(Tiers.Small, Batches.Features);

        Assert.Equal(
            ["feature.segment: Int32 [requests, 2]", "feature.affinity: Float [requests, 2]", "feature.tags: Int32 [candidates, 3]", "feature.price: Float [candidates, 2]"],
            Describe(session.InputMetadata).Where(d => d.StartsWith("feature.", StringComparison.Ordinal)));
        Assert.Equal(Batches.Features, FeatureSchema.Parse(session.ModelMetadata.CustomMetadataMap[OnnxNames.FeaturesMetadata]));
    }

    [Fact]
    public void Tier_WithoutConfiguredFeatures_HasNoFeatureInputOrMetadata()
    {
        using var session = Load(Tiers.Large);

        Assert.DoesNotContain(session.InputMetadata.Keys, k => k.StartsWith(OnnxNames.FeaturePrefix, StringComparison.Ordinal));
        Assert.False(session.ModelMetadata.CustomMetadataMap.ContainsKey(OnnxNames.FeaturesMetadata));
    }

    // Writes version 7's graphs to a folder and opens one with a fresh session, as another process would.
    private static InferenceSession Load(string graph, FeatureSchema? features = null)
    {
        var folder = Directory.CreateTempSubdirectory("mesh-onnx-");
        try
        {
            foreach (var (name, bytes) in RankingOnnx.Export(RankingModel.CreateInitial(seed: 3, features).WithVersion(7, trainedExamples: 100)))
            {
                File.WriteAllBytes(Path.Combine(folder.FullName, $"{name}.onnx"), bytes);
            }

            return new InferenceSession(Path.Combine(folder.FullName, $"{graph}.onnx"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static string[] Describe(IReadOnlyDictionary<string, NodeMetadata> values) =>
    [
        .. values.Select(v => $"{v.Key}: {v.Value.ElementDataType} [{string.Join(", ", v.Value.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : v.Value.SymbolicDimensions[i]))}]"),
    ];
}
