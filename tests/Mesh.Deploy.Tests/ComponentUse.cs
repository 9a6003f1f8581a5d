using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Mesh.Contracts;

namespace Mesh.Deploy.Tests;

/// <summary>
/// The Dapr components one app-id's code uses, each with the first place (<c>path:line</c>) that uses it: the state
/// stores it names (<c>Components.EmbeddingStore</c> ...), the pub/sub when it names a topic (<c>Topics.Impressions</c>
/// ...; the mesh has one pub/sub), and the actor state store when it hosts an actor.
/// </summary>
public sealed record AppComponentUse(string AppId, IReadOnlyDictionary<string, string> Names, string? HostsActorsAt)
{
    /// <summary>Whether this app needs <paramref name="component"/> in scope, and where its code shows it.</summary>
    public bool Uses(Manifest component, out string where)
    {
        if (Names.TryGetValue(component.Name, out where!))
        {
            return true;
        }

        // Under Dapr an app that hosts actors keeps their state in the one component marked actorStateStore, whatever
        // its name: the name appears nowhere in the app's code.
        where = HostsActorsAt ?? string.Empty;
        return HostsActorsAt is not null && IsActorStateStore(component);
    }

    public static bool IsActorStateStore(Manifest component) =>
        component.At("spec", "metadata").Items().Any(m =>
            m.At("name").Text() == "actorStateStore" && string.Equals(m.At("value").Text(), "true", StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Reads which components each service uses from its source: the files under <c>services/{appId}</c> and those of the
/// libraries its project references, except Mesh.Contracts (which declares the names) and Mesh.Runtime* (which name
/// the pub/sub and the actor store only as defaults they use on a service's behalf, when the service publishes,
/// subscribes or hosts an actor; the scan sees those calls in the service's own code). Mesh.Serving is scanned, so
/// the ranker and user-model are seen to read the <c>models</c> store through it.
/// </summary>
/// <remarks>
/// Source rather than a built service's DI container: a store is named at the call site
/// (<c>state.GetAsync(Components.EmbeddingStore, …)</c>), not in a registration, so no container knows which stores
/// its handlers read; and recording the calls of a running service sees only the paths a test happens to drive
/// (precompute reads <c>embeddings</c> only for an event that arrives without the user's embedding). Full-line
/// comments are skipped, so a sentence that mentions a store does not count as a use.
/// </remarks>
public static partial class ComponentUse
{
    private static readonly Lazy<IReadOnlyList<AppComponentUse>> Apps = new(() => [.. AppIds.All.Select(Read)]);

    /// <summary>One entry per app-id in <see cref="AppIds.All"/>, in that order.</summary>
    public static IReadOnlyList<AppComponentUse> ByAppId => Apps.Value;

    /// <summary>The values of <see cref="Components"/>' constants, by constant name.</summary>
    private static Dictionary<string, string> ComponentConstants { get; } = typeof(Components)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .ToDictionary(f => f.Name, f => (string)f.GetRawConstantValue()!, StringComparer.Ordinal);

    private static AppComponentUse Read(string appId)
    {
        var root = Manifests.RepositoryRoot;
        var serviceFolder = Path.Combine(root, "services", appId);
        var project = Directory.EnumerateFiles(serviceFolder, "*.csproj").SingleOrDefault()
            ?? throw new InvalidOperationException($"services/{appId} has no project: every app-id is a folder of services/.");

        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        string? hostsActorsAt = null;
        foreach (var folder in new[] { serviceFolder }.Concat(ScannedLibraries(project)))
        {
            foreach (var file in SourceFiles(folder))
            {
                var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                {
                    var line = lines[i];
                    if (line.TrimStart().StartsWith("//", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var where = $"{relative}:{i + 1}";
                    foreach (Match m in ComponentReference().Matches(line))
                    {
                        if (ComponentConstants.TryGetValue(m.Groups["constant"].Value, out var name))
                        {
                            names.TryAdd(name, where);
                        }
                    }

                    if (TopicReference().IsMatch(line))
                    {
                        names.TryAdd(Components.PubSub, where);
                    }

                    if (hostsActorsAt is null && ActorHosting().IsMatch(line))
                    {
                        hostsActorsAt = where;
                    }
                }
            }
        }

        return new AppComponentUse(appId, names, hostsActorsAt);
    }

    // The project's references, transitively, that live in libs/ and are not the contracts or the runtimes.
    private static IEnumerable<string> ScannedLibraries(string project)
    {
        var libs = Path.Combine(Manifests.RepositoryRoot, "libs") + Path.DirectorySeparatorChar;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var current))
        {
            foreach (var include in XDocument.Load(current).Descendants("ProjectReference").Select(r => (string?)r.Attribute("Include")).OfType<string>())
            {
                var referenced = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(current)!, include.Replace('\\', Path.DirectorySeparatorChar)));
                if (seen.Add(referenced))
                {
                    pending.Push(referenced);
                }
            }
        }

        return seen
            .Select(p => Path.GetDirectoryName(p)!)
            .Where(d => d.StartsWith(libs, StringComparison.Ordinal))
            .Where(d => Path.GetFileName(d) is not "Mesh.Contracts" && !Path.GetFileName(d).StartsWith("Mesh.Runtime", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
    }

    private static IEnumerable<string> SourceFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(folder, f).Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    [GeneratedRegex(@"\bComponents\.(?<constant>[A-Z]\w*)")]
    private static partial Regex ComponentReference();

    [GeneratedRegex(@"\bTopics\.[A-Z]\w*")]
    private static partial Regex TopicReference();

    // Registering an actor type (the mesh's AddActor/AddActorType, or Dapr.Actors' RegisterActor/AddActors), or a
    // class deriving from Dapr.Actors' Actor or implementing the mesh's IActor.
    [GeneratedRegex(@"\b(?:AddActor|AddActorType|RegisterActor)\s*<|\bAddActors\s*\(|(?:\)|\bclass\s+\w+)\s*:\s*(?:[\w.]+\.)?I?Actor\b(?![.<])")]
    private static partial Regex ActorHosting();
}
