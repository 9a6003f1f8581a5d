using Mesh.Runtime.Dapr;

namespace Mesh.Runtime.Tests.Sidecar;

public sealed class DaprSidecarOptionsTests
{
    [Fact]
    public void Configure_NothingSet_UsesLoopbackPort3500()
    {
        var options = Configure(new DaprSidecarOptions(), []);

        Assert.Equal("http://127.0.0.1:3500", options.HttpEndpoint);
        Assert.Equal(new Uri("http://127.0.0.1:3500/"), options.BaseAddress);
        Assert.Null(options.ApiToken);
        Assert.Null(options.AppApiToken);
    }

    [Fact]
    public void Configure_DaprHttpPort_UsesLoopbackOnThatPort()
    {
        var options = Configure(new DaprSidecarOptions(), new() { ["DAPR_HTTP_PORT"] = "3601" });

        Assert.Equal("http://127.0.0.1:3601", options.HttpEndpoint);
    }

    [Fact]
    public void Configure_DaprHttpEndpoint_WinsOverPort()
    {
        var options = Configure(new DaprSidecarOptions(), new() { ["DAPR_HTTP_ENDPOINT"] = "http://dapr:3500", ["DAPR_HTTP_PORT"] = "3601" });

        Assert.Equal("http://dapr:3500", options.HttpEndpoint);
    }

    [Fact]
    public void Configure_EndpointConfigured_WinsOverEnvironment()
    {
        var options = Configure(new DaprSidecarOptions { HttpEndpoint = "http://localhost:9999" }, new() { ["DAPR_HTTP_ENDPOINT"] = "http://dapr:3500" });

        Assert.Equal("http://localhost:9999", options.HttpEndpoint);
    }

    [Fact]
    public void Configure_TokensInEnvironment_ReadsBoth()
    {
        var options = Configure(new DaprSidecarOptions(), new() { ["DAPR_API_TOKEN"] = "a", ["APP_API_TOKEN"] = "b" });

        Assert.Equal(("a", "b"), (options.ApiToken, options.AppApiToken));
    }

    [Fact]
    public void Configure_TokensConfigured_WinOverEnvironment()
    {
        var options = Configure(new DaprSidecarOptions { ApiToken = "x", AppApiToken = string.Empty }, new() { ["DAPR_API_TOKEN"] = "a", ["APP_API_TOKEN"] = "b" });

        Assert.Equal(("x", string.Empty), (options.ApiToken, options.AppApiToken));
    }

    [Theory]
    [InlineData("http://127.0.0.1:3500", true)]
    [InlineData("https://dapr.local", true)]
    [InlineData("127.0.0.1:3500", false)]
    [InlineData("ftp://dapr", false)]
    public void IsValid_Endpoint_AcceptsOnlyAbsoluteHttpUrls(string endpoint, bool valid)
    {
        Assert.Equal(valid, DaprSidecarOptions.IsValid(new DaprSidecarOptions { HttpEndpoint = endpoint }));
    }

    private static DaprSidecarOptions Configure(DaprSidecarOptions options, Dictionary<string, string> environment)
    {
        new DaprSidecarOptionsSetup(environment.GetValueOrDefault).Configure(options);
        return options;
    }
}
