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
}
