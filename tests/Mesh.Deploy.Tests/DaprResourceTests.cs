using System.Globalization;
using System.Text.RegularExpressions;
using Mesh.Contracts;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Mesh.Deploy.Tests;

/// <summary>components/ and dapr.yaml as daprd and the Dapr CLI read them.</summary>
public sealed partial class DaprResourceTests
{
    public static TheoryData<string> ComponentFiles =>
    [
        .. Directory.EnumerateFiles(Path.Combine(Manifests.RepositoryRoot, "components"), "*.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Manifests.RepositoryRoot, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal),
    ];

    [Theory]
    [MemberData(nameof(ComponentFiles))]
    public void ComponentFile_MetadataValues_AreStrings(string file)
    {
        Assert.All(Manifests.Load(file).Where(m => m.Kind == "Component"), AssertMetadataValuesAreStrings);
    }

    [Theory]
    [MemberData(nameof(ComponentFiles))]
    public void ComponentFile_ScopesAndNames_MatchContracts(string file)
    {
        foreach (var resource in Manifests.Load(file).Where(m => m.Node.At("apiVersion").Text()?.StartsWith("dapr.io/", StringComparison.Ordinal) == true))
        {
            Assert.All(resource.At("scopes").Texts(), scope => Assert.Contains(scope, AppIds.All));
            if (resource.Kind == "Component")
            {
                Assert.Contains(resource.Name, Components.StateStores.Append(Components.PubSub));
            }
        }
    }

    [Theory]
    [InlineData("components")]
    [InlineData("components/in-memory")]
    public void ComponentFolder_AsResourcesPath_HasEveryComponentOnce(string folder)
    {
        // daprd does not recurse into subfolders of a resources path.
        var names = Directory.EnumerateFiles(Path.Combine(Manifests.RepositoryRoot, folder), "*.yaml")
            .SelectMany(f => Manifests.Load(Path.GetRelativePath(Manifests.RepositoryRoot, f)))
            .Where(m => m.Kind == "Component")
            .Select(m => m.Name)
            .Order(StringComparer.Ordinal);

        Assert.Equal(Components.StateStores.Append(Components.PubSub).Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public void SqliteFolder_StateStores_MatchTheRedisOnesInNameScopesKeyPrefixAndActorStore()
    {
        var redis = Directory.EnumerateFiles(Path.Combine(Manifests.RepositoryRoot, "components"), "state-*.yaml")
            .SelectMany(f => Manifests.Load(Path.GetRelativePath(Manifests.RepositoryRoot, f)))
            .ToDictionary(m => m.Name, StringComparer.Ordinal);
        var sqlite = Directory.EnumerateFiles(Path.Combine(Manifests.RepositoryRoot, "components", "sqlite"), "*.yaml")
            .SelectMany(f => Manifests.Load(Path.GetRelativePath(Manifests.RepositoryRoot, f)))
            .ToList();

        Assert.Equal(Components.StateStores.Order(StringComparer.Ordinal), sqlite.Select(m => m.Name).Order(StringComparer.Ordinal));
        foreach (var store in sqlite)
        {
            var twin = redis[store.Name];
            Assert.Equal("state.sqlite", store.At("spec", "type").Text());
            Assert.Equal(twin.At("scopes").Texts(), store.At("scopes").Texts());
            Assert.Equal(Metadata(twin, "keyPrefix"), Metadata(store, "keyPrefix"));
            Assert.Equal(Metadata(twin, "actorStateStore"), Metadata(store, "actorStateStore"));
        }

        // One file per store: two components on one file would share Dapr's metadata table.
        var files = sqlite.Select(m => Metadata(m, "connectionString")).ToList();
        Assert.All(files, f => Assert.False(string.IsNullOrEmpty(f)));
        Assert.Equal(files.Count, files.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void DaprYaml_Apps_AreTheFiveAppIdsWithDistinctPortsTheirCommandsListenOn()
    {
        var apps = DaprYamlApps();

        Assert.Equal(AppIds.All, apps.Select(a => a.At("appID").Text()));
        foreach (var key in new[] { "appPort", "daprHTTPPort", "metricsPort" })
        {
            var ports = apps.Select(a => a.At(key).Text()).ToList();
            Assert.All(ports, p => Assert.True(int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _), $"{key} '{p}' is not a port"));
            Assert.Equal(ports.Count, ports.Distinct(StringComparer.Ordinal).Count());
        }

        foreach (var app in apps)
        {
            var appId = app.At("appID").Text();
            Assert.Equal($"./services/{appId}/", app.At("appDirPath").Text());
            Assert.Contains($"http://localhost:{app.At("appPort").Text()}", app.At("command").Texts());
            Assert.Contains(app.At("appHealthCheckPath").Text() ?? "/healthz", MeshRoutes.Mapped);
            // Paths other than appDirPath are relative to it.
            var config = Path.Combine(Manifests.RepositoryRoot, app.At("appDirPath").Text()!, app.At("configFilePath").Text()!);
            Assert.True(File.Exists(config), $"{appId}: configFilePath {config} does not exist");
        }
    }

    [Fact]
    public void DaprYaml_AppIds_AgreeWithComponentScopes()
    {
        var appIds = DaprYamlApps().Select(a => a.At("appID").Text()).ToHashSet(StringComparer.Ordinal);
        var resourcesPath = Manifests.Load("dapr.yaml").Single().At("common", "resourcesPath").Text()!;
        var resources = Directory.EnumerateFiles(Path.Combine(Manifests.RepositoryRoot, resourcesPath), "*.yaml")
            .SelectMany(f => Manifests.Load(Path.GetRelativePath(Manifests.RepositoryRoot, f)))
            .Where(m => m.Node.At("apiVersion").Text()?.StartsWith("dapr.io/", StringComparison.Ordinal) == true)
            .ToList();

        Assert.All(resources.SelectMany(r => r.At("scopes").Texts()), scope => Assert.Contains(scope, appIds));
        // Every app publishes or subscribes, so every app must be allowed the pub/sub.
        Assert.Equal(appIds.Order(StringComparer.Ordinal), resources.Single(r => r.Kind == "Component" && r.Name == Components.PubSub).At("scopes").Texts().Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// daprd decodes component metadata into <c>map[string]string</c>: a YAML number or bool fails the component
    /// when it loads. A plain scalar is a string only when YAML's resolver does not read it as null, bool or number.
    /// </summary>
    internal static void AssertMetadataValuesAreStrings(Manifest component)
    {
        foreach (var item in component.At("spec", "metadata").Items())
        {
            var name = item.At("name").Text();
            Assert.False(string.IsNullOrEmpty(name), $"{component.Name}: a metadata entry has no name");
            if (item.At("value") is not { } value)
            {
                Assert.NotNull(item.At("secretKeyRef"));
                continue;
            }

            var scalar = Assert.IsType<YamlScalarNode>(value);
            var isString = scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded
                || (scalar.Value is { Length: > 0 } text && !NonStringPlainScalar().IsMatch(text));
            Assert.True(isString, $"{component.Name}: metadata '{name}' is '{scalar.Value}', which YAML reads as a non-string; quote it");
        }
    }

    private static string? Metadata(Manifest component, string name) =>
        component.At("spec", "metadata").Items().FirstOrDefault(i => i.At("name").Text() == name)?.At("value").Text();

    private static IReadOnlyList<YamlNode> DaprYamlApps() => Manifests.Load("dapr.yaml").Single().At("apps").Items();

    // Null, bool (YAML 1.1 too: yes/no/on/off, which Kubernetes' YAML still resolves), int (incl. hex, octal and
    // sexagesimal) and float forms of YAML 1.1 and 1.2.
    [GeneratedRegex(
        @"^(?:~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
        + @"|[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
        + @"|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        + @"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")]
    private static partial Regex NonStringPlainScalar();
}
