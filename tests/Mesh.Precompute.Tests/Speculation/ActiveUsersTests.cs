using Mesh.Precompute.Speculation;
using Mesh.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.Precompute.Tests.Speculation;

public sealed class ActiveUsersTests
{
    [Fact]
    public void RecordServed_OverAdsPerUser_ForgetsTheLeastRecentlyRecorded()
    {
        var users = new ActiveUsers(Options.Create(new PrecomputeOptions { AdsPerUser = 3 }), TestClock.Create());
        users.RecordServed("u1", [("a1", "c"), ("a2", "c"), ("a3", "c")]);

        // a1 again (it stays), then two new ads: a2 and a3 are the least recent, in that order.
        users.RecordServed("u1", [("a1", "c"), ("a4", "c")]);
        Assert.Equal(["a3", "a1", "a4"], users.Predict("u1").Ads.Select(a => a.AdId));

        // A removal frees a slot that the next insertion reuses: the order must still be recency, not slots.
        users.RecordServed("u1", [("a5", "c")]);
        Assert.Equal(["a1", "a4", "a5"], users.Predict("u1").Ads.Select(a => a.AdId));
        users.RecordServed("u1", [("a6", "c"), ("a7", "c")]);
        Assert.Equal(["a5", "a6", "a7"], users.Predict("u1").Ads.Select(a => a.AdId));
    }
}
