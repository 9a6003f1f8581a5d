using Microsoft.Extensions.Time.Testing;

namespace Mesh.Testing;

/// <summary>A fake clock starting at a fixed instant, so tests never depend on the wall clock.</summary>
public static class TestClock
{
    public static readonly DateTimeOffset Start = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    public static FakeTimeProvider Create() => new(Start);
}
