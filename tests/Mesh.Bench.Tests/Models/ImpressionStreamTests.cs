using Mesh.Bench.Models;
using Mesh.Models.Features;

namespace Mesh.Bench.Tests.Models;

[Trait("Category", "Slow")]
public class ImpressionStreamTests
{
    private static readonly ImpressionStreamOptions Small = new() { Impressions = 5_005, HoldoutRequests = 20 };

    [Fact]
    public void Generate_SameSeed_IdenticalStream()
    {
        var first = ImpressionStream.Generate(Small);
        var second = ImpressionStream.Generate(Small);

        Assert.Equal(Describe(first.Training), Describe(second.Training));
        Assert.Equal(Describe(first.Holdout), Describe(second.Holdout));
        Assert.Equal(first.Training.SelectMany(r => r.Labels), second.Training.SelectMany(r => r.Labels));
        Assert.Equal(first.Training.SelectMany(r => r.Probabilities), second.Training.SelectMany(r => r.Probabilities));
    }

    [Fact]
    public void Generate_OtherSeed_OtherStream()
    {
        var first = ImpressionStream.Generate(Small);
        var other = ImpressionStream.Generate(Small with { Seed = 2 });

        Assert.NotEqual(Describe(first.Training), Describe(other.Training));
    }

    [Fact]
    public void Generate_Impressions_WholeRequestsOfTenThenFullyLabelledHoldout()
    {
        var stream = ImpressionStream.Generate(Small);

        Assert.Equal(501, stream.Training.Count); // 5,005 impressions round up to whole requests of 10
        Assert.Equal(5_010, stream.Impressions);
        Assert.All(stream.Training, r => Assert.Equal(10, r.Input.Ads.Count));
        Assert.All(stream.Training, r => Assert.Equal(10, r.Input.Ads.Select(a => a.AdId).Distinct().Count()));
        Assert.Equal(20, stream.Holdout.Count);
        Assert.All(stream.Holdout, r => Assert.Equal(50, r.Labels.Length));
        Assert.All(stream.Training.Concat(stream.Holdout), r => Assert.Equal(r.Input.Ads.Count, r.Probabilities.Length));
    }

    [Fact]
    public void Generate_Requests_InTimeOrderWithPastEventsOnly()
    {
        var stream = ImpressionStream.Generate(Small);
        var requests = stream.Training.Concat(stream.Holdout).Select(r => r.Input).ToList();

        Assert.True(requests.Zip(requests.Skip(1)).All(p => p.First.At <= p.Second.At));
        Assert.All(requests, r => Assert.InRange(r.Recent.Count, 0, FeatureSpace.SequenceLength));
        Assert.All(requests, r => Assert.All(r.Recent, e => Assert.True(e.OccurredAt < r.At)));
        Assert.All(requests, r => Assert.True(r.Recent.Zip(r.Recent.Skip(1)).All(p => p.First.OccurredAt <= p.Second.OccurredAt)));
        Assert.Contains(requests, r => r.Recent.Count == FeatureSpace.SequenceLength); // heavy users fill their history
        Assert.All(requests, r => Assert.Null(r.UserEmbedding));
    }

    [Fact]
    public void Labels_FollowThePlantedProbabilities()
    {
        var stream = ImpressionStream.Generate(new ImpressionStreamOptions { Impressions = 50_000, HoldoutRequests = 0 });
        var pairs = stream.Training.SelectMany(r => r.Labels.Zip(r.Probabilities)).ToList();

        // Clicks against their expectation: within 4 standard deviations of a sum of Bernoulli draws.
        var expected = pairs.Sum(p => p.Second);
        var sd = Math.Sqrt(pairs.Sum(p => p.Second * (1 - p.Second)));
        Assert.InRange(pairs.Sum(p => p.First), expected - (4 * sd), expected + (4 * sd));

        // And by planted p: the likelier half is clicked at its own, higher rate.
        var median = pairs.Select(p => p.Second).Order().ElementAt(pairs.Count / 2);
        foreach (var half in pairs.GroupBy(p => p.Second >= median))
        {
            var clicks = half.Sum(p => p.First);
            var mean = half.Sum(p => p.Second);
            Assert.InRange(clicks, mean - (4 * Math.Sqrt(mean)), mean + (4 * Math.Sqrt(mean)));
        }

        Assert.All(pairs, p => Assert.True(p.First is 0f or 1f));
    }

    private static List<string> Describe(IEnumerable<StreamRequest> requests) =>
        [.. requests.Select(r => $"{r.Input.UserId} {r.Input.At:O} {r.Input.Context.Surface} {r.Input.Recent.Count} {string.Join(',', r.Input.Ads.Select(a => a.AdId))}")];
}
