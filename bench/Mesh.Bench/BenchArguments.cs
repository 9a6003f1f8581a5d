using System.Globalization;

namespace Mesh.Bench;

/// <summary>The command-line shape every benchmark shares: options as <c>--name value</c> or <c>--name=value</c>.</summary>
public static class BenchArguments
{
    /// <summary>The (name, value) pairs of <paramref name="args"/> in order, or an error for a stray argument or a missing value.</summary>
    public static (IReadOnlyList<(string Name, string Value)>? Options, string? Error) Split(IReadOnlyList<string> args)
    {
        var options = new List<(string, string)>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                return (null, $"unexpected argument '{arg}'");
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                options.Add((arg[2..equals], arg[(equals + 1)..]));
            }
            else if (i + 1 < args.Count)
            {
                options.Add((arg[2..], args[++i]));
            }
            else
            {
                return (null, $"option '{arg}' needs a value");
            }
        }

        return (options, null);
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>], invariant culture.</summary>
    public static bool TryParseInt(string value, int min, int max, out int result) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out result) && result >= min && result <= max;

    /// <summary>Seconds in [<paramref name="min"/>, <paramref name="max"/>], with or without a trailing <c>s</c> (<c>10</c>, <c>2.5s</c>).</summary>
    public static bool TryParseSeconds(string value, double min, double max, out TimeSpan result)
    {
        var text = value.EndsWith('s') ? value[..^1] : value;
        var ok = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= min && seconds <= max;
        result = ok ? TimeSpan.FromSeconds(seconds) : default;
        return ok;
    }

    /// <summary><c>on</c> or <c>off</c> (also <c>true</c>/<c>false</c>, <c>1</c>/<c>0</c>), case-insensitive.</summary>
    public static bool TryParseSwitch(string value, out bool result)
    {
        ArgumentNullException.ThrowIfNull(value);
        var (ok, on) = value.ToUpperInvariant() switch
        {
            "ON" or "TRUE" or "1" => (true, true),
            "OFF" or "FALSE" or "0" => (true, false),
            _ => (false, false),
        };
        result = on;
        return ok;
    }

    /// <summary>A comma-separated list of at least one such integer; repeats are dropped, the first order kept.</summary>
    public static bool TryParseIntList(string value, int min, int max, out IReadOnlyList<int> result)
    {
        var list = new List<int>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParseInt(part, min, max, out var n))
            {
                result = [];
                return false;
            }

            list.Add(n);
        }

        result = [.. list.Distinct()];
        return list.Count > 0;
    }
}
