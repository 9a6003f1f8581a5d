using System.ComponentModel.DataAnnotations;
using Mesh.Contracts;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Tests.Features;

public sealed class FeatureSpaceOptionsTests
{
    public static TheoryData<FeatureDefinition[], string> Invalid => new()
    {
        { [Categorical("tags"), Categorical("tags")], "configured twice" },
        { [Categorical("")], "Name is required" },
        { [Categorical("has space")], "Name is required" },
        { [new FeatureDefinition { Name = "tags", Buckets = 1000 }], "power of two" },
        { [new FeatureDefinition { Name = "tags", MaxValues = 0 }], "MaxValues" },
        { [new FeatureDefinition { Name = "tags", Transform = FeatureTransform.Log1p }], "numeric features only" },
        { [new FeatureDefinition { Name = "x", Kind = (FeatureKind)7 }], "Kind must be" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_AnInvalidFeatureSpace_SaysWhatIsWrong(FeatureDefinition[] features, string error)
    {
        var options = new FeatureSpaceOptions { Features = features };
        var results = new List<ValidationResult>();

        var valid = Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);

        Assert.False(valid);
        Assert.Contains(results, r => r.ErrorMessage!.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_TheDocumentedExample_IsValid()
    {
        var options = new FeatureSpaceOptions
        {
            Features =
            [
                new FeatureDefinition { Name = "segment", Side = FeatureSide.Context, Kind = FeatureKind.Categorical, Buckets = 1024, MaxValues = 1 },
                new FeatureDefinition { Name = "tags", Side = FeatureSide.Candidate, Kind = FeatureKind.Categorical, Buckets = 4096, MaxValues = 8 },
                new FeatureDefinition { Name = "price", Side = FeatureSide.Candidate, Kind = FeatureKind.Numeric, Transform = FeatureTransform.Log1p },
            ],
        };

        Assert.True(Validator.TryValidateObject(options, new ValidationContext(options), [], validateAllProperties: true));
    }

    [Fact]
    public void Start_WithAnInvalidFeatureSpace_Fails()
    {
        var settings = new Dictionary<string, string?>
        {
            ["FeatureSpace:Features:0:Name"] = "tags",
            ["FeatureSpace:Features:0:Buckets"] = "1000",
        };

        var error = Assert.Throws<OptionsValidationException>(() => RouterApp.WithSettings(settings));

        Assert.Contains("power of two", error.Message, StringComparison.Ordinal);
    }

    private static FeatureDefinition Categorical(string name) => new() { Name = name };
}
