using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models.Features;

namespace Mesh.Models.Tests.Features;

public class FeatureSchemaTests
{
    internal static readonly FeatureSchema Schema = new(
    [
        new FeatureField("segment", FeatureSide.Context, FeatureKind.Categorical, Buckets: 64),
        new FeatureField("affinity", FeatureSide.Context, FeatureKind.Numeric),
        new FeatureField("tags", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 256, MaxValues: 3),
        new FeatureField("price", FeatureSide.Candidate, FeatureKind.Numeric, Transform: FeatureTransform.Log1p),
    ]);

    [Fact]
    public void From_TheOptions_GivesTheirFeaturesInOrder()
    {
        var options = new FeatureSpaceOptions
        {
            Features =
            [
                new FeatureDefinition { Name = "segment", Side = FeatureSide.Context, Kind = FeatureKind.Categorical, Buckets = 64 },
                new FeatureDefinition { Name = "affinity", Side = FeatureSide.Context, Kind = FeatureKind.Numeric },
                new FeatureDefinition { Name = "tags", Side = FeatureSide.Candidate, Kind = FeatureKind.Categorical, Buckets = 256, MaxValues = 3 },
                new FeatureDefinition { Name = "price", Side = FeatureSide.Candidate, Kind = FeatureKind.Numeric, Transform = FeatureTransform.Log1p },
            ],
        };

        var schema = FeatureSchema.From(options);

        Assert.Equal(Schema, schema);
        Assert.Equal(["segment", "affinity"], schema.Context.Select(f => f.Name));
        Assert.Equal(["tags", "price"], schema.Candidate.Select(f => f.Name));
    }

    [Fact]
    public void FromJson_OfToJson_IsTheSameSchema()
    {
        var json = Schema.ToJson().ToJsonString();

        Assert.Equal(Schema, FeatureSchema.Parse(json));
        Assert.Equal(FeatureSchema.Empty, FeatureSchema.FromJson(null));
        Assert.NotEqual(Schema, new FeatureSchema(Schema.Features.Take(3)));
    }

    [Fact]
    public void Create_EncodesEachKindAndSide_AbsentAsPaddingOrZeros()
    {
        var request = Request(
            context: new() { ["segment"] = Json("\"gold\""), ["affinity"] = Json("0.25"), ["unknown"] = Json("1") },
            new() { ["tags"] = Json("[\"a\", 7, \"c\", \"d\"]"), ["price"] = Json("99") },
            new() { ["tags"] = Json("\"b\""), ["price"] = Json("\"not a number\"") },
            null);

        var batch = RankingBatch.Create([request], schema: Schema);

        var tags = batch.Feature("tags");
        var field = Schema.Find("tags")!;
        Assert.Equal([field.Bucket("a"), field.Bucket("7"), field.Bucket("c"), field.Bucket("b"), -1, -1, -1, -1, -1], tags.Ids); // the first 3 values read
        Assert.Equal([0, 3, 6, 9], tags.Offsets);
        Assert.Equal([(float)Math.Log(100), 1f, 0f, 0f, 0f, 0f], batch.Feature("price").Values); // a wrong kind is not read
        Assert.Equal([Schema.Find("segment")!.Bucket("gold")], batch.Feature("segment").Ids);
        Assert.Equal([0.25f, 1f], batch.Feature("affinity").Values);
        Assert.InRange(tags.Ids[0], 0, 255);
    }

    [Fact]
    public void Create_WithoutASchema_EncodesNoFeatureColumns()
    {
        var request = Request(new() { ["segment"] = Json("\"gold\"") }, new Dictionary<string, JsonElement> { ["tags"] = Json("\"a\"") });

        var batch = RankingBatch.Create([request]);

        Assert.Empty(batch.Features);
        Assert.Throws<ArgumentException>(() => batch.Feature("segment"));
    }

    [Fact]
    public void Bucket_IsSaltedByTheFeatureName()
    {
        var a = new FeatureField("tags", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 1 << 20);
        var b = new FeatureField("author", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 1 << 20);

        Assert.Equal(a.Bucket("x"), a.Bucket("x"));
        Assert.NotEqual(a.Bucket("x"), b.Bucket("x"));
    }

    internal static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    internal static RankingInput Request(Dictionary<string, JsonElement>? context, params Dictionary<string, JsonElement>?[] ads) => new()
    {
        UserId = "u1",
        Context = new RankContext { Features = context },
        At = Requests.Now,
        Ads = [.. ads.Select((f, i) => new AdInput("a" + i, "c0", null, f))],
    };
}
