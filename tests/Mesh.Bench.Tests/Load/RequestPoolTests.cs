using Mesh.Bench.Load;
using Mesh.Contracts;

namespace Mesh.Bench.Tests.Load;

public class RequestPoolTests
{
    [Trait("Category", "Slow")]
    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(1000)]
    public void Create_AnyCount_GivesValidRequestsWithDistinctCandidates(int candidates)
    {
        var pool = RequestPool.Create(candidates, seed: 42);

        Assert.Equal(RequestPool.Size, pool.Bodies.Count);
        foreach (var body in pool.Bodies)
        {
            var request = MeshJson.Deserialize<RankRequest>(body);
            Assert.Matches("^u[0-9]{6}$", request.UserId);
            Assert.Equal(candidates, request.Candidates!.Count);
            Assert.Equal(candidates, request.Candidates.Select(c => c.AdId).Distinct().Count());
            Assert.All(request.Candidates, c => Assert.Matches("^a[0-9]{6}$", c.AdId));
            Assert.All(request.Candidates, c => Assert.Matches("^c[0-2][0-9]$", c.Category));
            Assert.Equal(Math.Min(10, candidates), request.K);
            Assert.Equal(100, request.BudgetMs);
            Assert.InRange(request.Context!.Hour, 0, 23);
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Create_SameSeed_SameBodies()
    {
        var first = RequestPool.Create(100, seed: 7);
        var second = RequestPool.Create(100, seed: 7);

        Assert.Equal(first.Bodies, second.Bodies);
    }

    [Fact]
    public void Create_Body_IsCamelCase()
    {
        var text = System.Text.Encoding.UTF8.GetString(RequestPool.Create(1, seed: 1).Bodies[0]);

        Assert.StartsWith("{\"userId\":", text, StringComparison.Ordinal);
        Assert.Contains("\"budgetMs\":100", text, StringComparison.Ordinal);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Create_OneAd_KeepsItsCategoryInEveryRequest()
    {
        var categories = RequestPool.Create(500, seed: 3).Bodies
            .SelectMany(b => MeshJson.Deserialize<RankRequest>(b).Candidates!)
            .GroupBy(c => c.AdId)
            .Select(g => g.Select(c => c.Category).Distinct().Count());

        Assert.All(categories, count => Assert.Equal(1, count));
    }
}
