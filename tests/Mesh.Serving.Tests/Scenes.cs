using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Serving.Tests;

/// <summary>A serving model and seeded requests for the tests that score; also compiled into the ranker's tests.</summary>
internal static class Scenes
{
    public static readonly DateTimeOffset Now = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Version 0 serving the user tower and every tier on the CPU, with <paramref name="configure"/>'s changes.</summary>
    public static ServingModel Serving(Action<ServingOptions>? configure = null, FeatureSpaceOptions? features = null)
    {
        var options = new ServingOptions();
        options.Graphs.Add(OnnxNames.UserTower);
        options.Graphs.Add(ServingOptions.AllTiers);
        configure?.Invoke(options);
        return new ServingModel(Options.Create(options), NullLogger<ServingModel>.Instance, features is null ? null : Options.Create(features));
    }

    /// <summary>A request of <paramref name="candidates"/> ads with a random served embedding.</summary>
    public static RankingInput Request(Random rng, int candidates) => new()
    {
        UserId = "u" + rng.Next(20),
        Context = new RankContext { Surface = "feed", Device = "ios", Hour = rng.Next(24) },
        At = Now,
        UserEmbedding = [.. Enumerable.Range(0, FeatureSpace.UserEmbeddingDimension).Select(_ => (float)(rng.NextDouble() - 0.5))],
        Ads = [.. Enumerable.Range(0, candidates).Select(_ => new AdInput("a" + rng.Next(100), "c" + rng.Next(5)))],
    };
}
