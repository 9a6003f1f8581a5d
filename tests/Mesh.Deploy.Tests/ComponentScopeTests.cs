using Mesh.Contracts;

namespace Mesh.Deploy.Tests;

/// <summary>
/// Component scopes against what the code uses (<see cref="ComponentUse"/>). A sidecar that enforces scopes refuses a
/// call to a component its app-id is not in scope for: a missing app-id is a read or publish that fails on every try
/// under real daprd (and an event retried until it dead-letters), while everything still passes on the embedded runtime.
/// </summary>
public sealed class ComponentScopeTests
{
    public static TheoryData<string> ComponentFiles => DaprResourceTests.ComponentFiles;

    public static TheoryData<string> AllRenders => KubernetesManifestTests.AllRenders;

    [Theory]
    [MemberData(nameof(ComponentFiles))]
    public void ComponentFile_EveryComponentTheCodeUses_IsInScopeForEachAppIdUsingIt(string file)
    {
        AssertInScopeForEveryUser(Manifests.Load(file), file);
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_EveryComponentTheCodeUses_IsInScopeForEachAppIdUsingIt(string path)
    {
        AssertInScopeForEveryUser(await Manifests.RenderAsync(path), $"deploy/{path}");
    }

    [Theory]
    [MemberData(nameof(ComponentFiles))]
    public void ComponentFile_Scopes_NameOnlyAppIdsWhoseCodeUsesTheComponent(string file)
    {
        AssertScopedToUsersOnly(Manifests.Load(file), file);
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_Scopes_NameOnlyAppIdsWhoseCodeUsesTheComponent(string path)
    {
        AssertScopedToUsersOnly(await Manifests.RenderAsync(path), $"deploy/{path}");
    }

    /// <summary>Guards the scan itself: if it went blind (a renamed constant, a new way to name a store or host an actor), the scope tests would pass on nothing.</summary>
    [Fact]
    public void CodeScan_FindsThePubSubInEveryAppAndAUserForEveryComponent()
    {
        var apps = ComponentUse.ByAppId;

        Assert.All(apps, a => Assert.True(a.Names.ContainsKey(Components.PubSub), $"{a.AppId}: no topic found in its code; every service publishes or subscribes"));
        Assert.True(apps.Single(a => a.AppId == AppIds.UserModel).HostsActorsAt is not null, "user-model hosts the user actor, but the scan found no actor registration in its code");
        var components = Directory.EnumerateFiles(Path.Combine(Manifests.RepositoryRoot, "components"), "*.yaml")
            .SelectMany(f => Manifests.Load(Path.GetRelativePath(Manifests.RepositoryRoot, f)))
            .Where(m => m.Kind == "Component")
            .ToList();
        Assert.Equal(Components.StateStores.Append(Components.PubSub).Order(StringComparer.Ordinal), components.Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.All(components, c => Assert.True(apps.Any(a => a.Uses(c, out _)), $"no app-id's code uses component '{c.Name}'"));
    }

    private static void AssertInScopeForEveryUser(IReadOnlyList<Manifest> manifests, string source)
    {
        var missing = new List<string>();
        foreach (var component in manifests.Where(m => m.Kind == "Component"))
        {
            var scopes = component.At("scopes").Texts();
            if (scopes.Count == 0)
            {
                continue; // Dapr: no scopes means every app-id may use it.
            }

            foreach (var app in ComponentUse.ByAppId)
            {
                if (app.Uses(component, out var where) && !scopes.Contains(app.AppId))
                {
                    missing.Add($"{source}: component '{component.Name}' is not in scope for {app.AppId}, whose code uses it at {where} (scopes: {string.Join(", ", scopes)})");
                }
            }
        }

        Assert.True(missing.Count == 0, string.Join(Environment.NewLine, missing));
    }

    private static void AssertScopedToUsersOnly(IReadOnlyList<Manifest> manifests, string source)
    {
        var extra = new List<string>();
        foreach (var component in manifests.Where(m => m.Kind == "Component"))
        {
            var scopes = component.At("scopes").Texts();
            if (scopes.Count == 0)
            {
                extra.Add($"{source}: component '{component.Name}' has no scopes, so every app-id may use it");
                continue;
            }

            foreach (var scope in scopes)
            {
                var app = ComponentUse.ByAppId.SingleOrDefault(a => a.AppId == scope);
                if (app is null || !app.Uses(component, out _))
                {
                    extra.Add($"{source}: component '{component.Name}' is in scope for {scope}, whose code does not use it");
                }
            }
        }

        Assert.True(extra.Count == 0, string.Join(Environment.NewLine, extra));
    }
}
