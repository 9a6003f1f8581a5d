using System.Net;
using System.Text;

namespace Mesh.Standalone.Tests;

/// <summary><c>/bench/bare-rank</c> is the load benchmark's, served only when asked for (<see cref="StandaloneOptions.BenchEndpoints"/>).</summary>
public sealed class BenchEndpointsTests
{
    private const string Body = """{"userId":"u","candidates":[{"adId":"a"}],"k":1}""";

    [Fact]
    public async Task BareRank_ByDefault_NotServed()
    {
        await using var mesh = new StandaloneMesh();

        var response = await mesh.CreateClient().PostAsync("/bench/bare-rank", new StringContent(Body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task BareRank_BenchEndpointsOn_Served()
    {
        await using var mesh = new StandaloneMesh();
        using var on = mesh.WithWebHostBuilder(b => b.UseSetting("Standalone:BenchEndpoints", "true"));

        var response = await on.CreateClient().PostAsync("/bench/bare-rank", new StringContent(Body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
