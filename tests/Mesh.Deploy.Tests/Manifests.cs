using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace Mesh.Deploy.Tests;

/// <summary>One Kubernetes or Dapr object of a rendered or source YAML file.</summary>
public sealed record Manifest(string Kind, string Name, YamlMappingNode Node)
{
    public YamlNode? At(params string[] path) => Node.At(path);
}

/// <summary>The repository's deployment files, read or rendered once per test run (rendering is a pure function of the files).</summary>
public static class Manifests
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<Manifest>>>> Rendered = new(StringComparer.Ordinal);

    /// <summary>The directory holding Mesh.sln.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary><c>kubectl kustomize deploy/{path}</c>, parsed; a missing kubectl fails with how to install it.</summary>
    public static Task<IReadOnlyList<Manifest>> RenderAsync(string path) =>
        Rendered.GetOrAdd(path, p => new Lazy<Task<IReadOnlyList<Manifest>>>(() => KustomizeAsync(p))).Value;

    /// <summary>The objects of one YAML file of the repository (several documents allowed).</summary>
    public static IReadOnlyList<Manifest> Load(string relativePath) => Parse(File.ReadAllText(Path.Combine(RepositoryRoot, relativePath)));

    public static IReadOnlyList<Manifest> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return
        [
            .. stream.Documents
                .Select(d => d.RootNode)
                .OfType<YamlMappingNode>()
                .Select(n => new Manifest(n.At("kind").Text() ?? string.Empty, n.At("metadata", "name").Text() ?? string.Empty, n)),
        ];
    }

    private static async Task<IReadOnlyList<Manifest>> KustomizeAsync(string path)
    {
        var kubectl = Environment.GetEnvironmentVariable("MESH_KUBECTL") is { Length: > 0 } configured ? configured : "kubectl";
        var start = new ProcessStartInfo(kubectl)
        {
            ArgumentList = { "kustomize", Path.Combine(RepositoryRoot, "deploy", path) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"'{kubectl}' did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"kubectl is required to render deploy/{path} ('{kubectl}' could not be started: {e.Message}). "
                + "Install kubectl (it bundles kustomize; see tests/Mesh.Deploy.Tests/README.md) or set MESH_KUBECTL to its path.", e);
        }

        using (process)
        {
            // Read both pipes while waiting, so a large render cannot fill one and stall the child.
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(guard.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"kubectl kustomize deploy/{path} failed with exit code {process.ExitCode}: {await stderr}");
            }

            return Parse(await stdout);
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Mesh.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>Navigation over YamlDotNet's representation model.</summary>
public static class YamlNodes
{
    public static YamlNode? At(this YamlNode? node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out node))
            {
                return null;
            }
        }

        return node;
    }

    public static string? Text(this YamlNode? node) => (node as YamlScalarNode)?.Value;

    public static IReadOnlyList<YamlNode> Items(this YamlNode? node) => node is YamlSequenceNode seq ? [.. seq.Children] : [];

    public static IReadOnlyList<string> Texts(this YamlNode? node) => [.. node.Items().Select(i => i.Text() ?? string.Empty)];
}
