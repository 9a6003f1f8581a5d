using System.Security.Cryptography;
using System.Text.Json;

namespace Mesh.World.Tests;

public class RealisticWorldTests
{
    private static RealisticWorldOptions Small(int seed = 1) => new() { Seed = seed, Impressions = 20_000 };

    [Fact]
    public void WriteJsonLines_SameSeed_SameBytes()
    {
        var first = Hash(new RealisticWorld(Small()));
        var second = Hash(new RealisticWorld(Small()));
        var other = Hash(new RealisticWorld(Small(seed: 2)));

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Impressions_Defaults_LookLikeARealLog()
    {
        var log = new RealisticWorld(Small()).Impressions().ToList();

        Assert.Equal(20_000, log.Count);
        var ctr = log.Average(i => i.Click ? 1.0 : 0.0);
        Assert.InRange(ctr, 0.02, 0.05);
        // Event time: non-decreasing, over the configured days.
        Assert.True(log.Zip(log.Skip(1)).All(p => p.First.Time <= p.Second.Time));
        Assert.True(log[^1].Time - log[0].Time > TimeSpan.FromDays(6));
        // Cold start all through the log: users and items first seen in the last fifth.
        var tail = log.Skip(16_000).ToList();
        var earlyUsers = log.Take(16_000).Select(i => i.UserId).ToHashSet();
        var earlyItems = log.Take(16_000).Select(i => i.ItemId).ToHashSet();
        Assert.True(tail.Count(i => !earlyUsers.Contains(i.UserId)) > 0.1 * tail.Count);
        Assert.True(tail.Count(i => !earlyItems.Contains(i.ItemId)) > 0.1 * tail.Count);
        Assert.All(log, i => Assert.InRange(i.Tags.Count, 1, 3));
        Assert.All(log, i => Assert.InRange(i.Position, 1, 5));
    }

    [Fact]
    public void Impressions_ClickModel_DependsOnFeatureInteractions()
    {
        // The planted probability spread within one position and one segment comes from the crosses: with the
        // interaction scales at zero it shrinks to the per-user, per-item and hour biases.
        static double Spread(RealisticWorldOptions o)
        {
            var logits = new RealisticWorld(o).Impressions().Where(i => i.Position == 1).Select(i => Math.Log(i.Probability / (1 - i.Probability))).ToList();
            var mean = logits.Average();
            return Math.Sqrt(logits.Average(x => (x - mean) * (x - mean)));
        }

        var full = Spread(Small());
        var additive = Spread(new RealisticWorldOptions
        {
            Impressions = 20_000,
            SegmentCategoryScale = 0,
            AgeTagScale = 0,
            RegionPriceScale = 0,
            TasteInteraction = 0,
        });

        Assert.True(full > 1.5 * additive, $"logit spread {full:F3} with interactions against {additive:F3} without");
    }

    [Fact]
    public void WriteJsonLines_Line_HasEveryField()
    {
        using var stream = new MemoryStream();
        var lines = new RealisticWorld(new RealisticWorldOptions { Impressions = 7 }).WriteJsonLines(stream);

        var text = System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines);
        Assert.Equal(7, text.Length);
        using var first = JsonDocument.Parse(text[0]);
        var root = first.RootElement;
        Assert.Equal("r0000000", root.GetProperty(RealisticWorld.Fields.Request).GetString());
        Assert.EndsWith("Z", root.GetProperty(RealisticWorld.Fields.Time).GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Array, root.GetProperty(RealisticWorld.Fields.Tags).ValueKind);
        Assert.Equal(JsonValueKind.Number, root.GetProperty(RealisticWorld.Fields.Price).ValueKind);
        Assert.Equal(1, root.GetProperty(RealisticWorld.Fields.Position).GetInt32());
        Assert.InRange(root.GetProperty(RealisticWorld.Fields.Click).GetInt32(), 0, 1);
        Assert.Equal("r0000001", JsonDocument.Parse(text[5]).RootElement.GetProperty(RealisticWorld.Fields.Request).GetString());
    }

    private static string Hash(RealisticWorld world)
    {
        using var stream = new MemoryStream();
        world.WriteJsonLines(stream);
        return Convert.ToHexString(SHA256.HashData(stream.ToArray()));
    }
}
