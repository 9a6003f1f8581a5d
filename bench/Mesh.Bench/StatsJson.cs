using System.Text.Json;

namespace Mesh.Bench;

/// <summary>
/// Figures out of the standalone host's <c>GET /v1/stats</c> reply, by property path (<c>"ranker", "lag", "versions"</c>).
/// A step that is missing, or not an object, means the host does not report the figure: null, never an exception.
/// </summary>
public static class StatsJson
{
    public static JsonElement? At(JsonElement stats, params ReadOnlySpan<string> path)
    {
        var e = stats;
        foreach (var name in path)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out e))
            {
                return null;
            }
        }

        return e;
    }

    /// <summary>The figure at <paramref name="path"/> as a whole number; null where missing or not one.</summary>
    public static long? Long(JsonElement stats, params ReadOnlySpan<string> path) =>
        At(stats, path) is { ValueKind: JsonValueKind.Number } value && value.TryGetInt64(out var n) ? n : null;
}
