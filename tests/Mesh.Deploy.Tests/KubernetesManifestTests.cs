using System.Globalization;
using Mesh.Contracts;
using YamlDotNet.RepresentationModel;

namespace Mesh.Deploy.Tests;

/// <summary>deploy/ as kubectl renders it: every service deployable under its app-id, wired to ports and routes that exist.</summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => ["overlays/local", "overlays/production"];

    public static TheoryData<string> AllRenders => ["base", "overlays/local", "overlays/production"];

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_EveryService_OneDeploymentAndOneServiceNamedAfterItsAppId(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        foreach (var appId in AppIds.All)
        {
            Assert.Single(manifests, m => m.Kind == "Deployment" && m.Name == appId);
            Assert.Single(manifests, m => m.Kind == "Service" && m.Name == appId);
        }

        // Every Dapr-enabled workload is one of the five, named as its app-id (Redis in overlays/local has no sidecar).
        var daprDeployments = manifests.Where(m => m.Kind == "Deployment" && Annotation(m, "dapr.io/enabled") == "true").ToList();
        Assert.Equal(AppIds.All.Order(StringComparer.Ordinal), daprDeployments.Select(d => d.Name).Order(StringComparer.Ordinal));
        Assert.All(daprDeployments, d => Assert.Equal(d.Name, Annotation(d, "dapr.io/app-id")));
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_AppPort_IsTheContainerPortAndTheServiceTargetPort(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        foreach (var appId in AppIds.All)
        {
            var deployment = manifests.Single(m => m.Kind == "Deployment" && m.Name == appId);
            var service = manifests.Single(m => m.Kind == "Service" && m.Name == appId);
            var container = AppContainer(deployment);
            var appPort = int.Parse(Annotation(deployment, "dapr.io/app-port")!, CultureInfo.InvariantCulture);

            Assert.Contains(appPort, container.At("ports").Items().Select(p => int.Parse(p.At("containerPort").Text()!, CultureInfo.InvariantCulture)));
            var servicePort = Assert.Single(service.At("spec", "ports").Items());
            Assert.Equal(appPort, ResolvePort(container, servicePort.At("targetPort").Text()));

            // The Service must select this Deployment's pods, or the port agreement above is moot.
            var podLabels = Labels(deployment.At("spec", "template", "metadata", "labels"));
            Assert.All(Labels(service.At("spec", "selector")), l => Assert.Equal(l.Value, podLabels.GetValueOrDefault(l.Key)));
        }
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_ProbesAndDaprHealthCheck_UseRoutesTheAppMaps(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        foreach (var appId in AppIds.All)
        {
            var deployment = manifests.Single(m => m.Kind == "Deployment" && m.Name == appId);
            var container = AppContainer(deployment);
            var appPort = int.Parse(Annotation(deployment, "dapr.io/app-port")!, CultureInfo.InvariantCulture);
            foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
            {
                var get = container.At(probe, "httpGet");
                Assert.True(get is not null, $"{appId}: {probe} is not an httpGet probe");
                Assert.Contains(get.At("path").Text() ?? "(none)", MeshRoutes.Mapped);
                Assert.Equal(appPort, ResolvePort(container, get.At("port").Text()));
            }

            // daprd's app health check sends no API token and, without the annotation, probes /healthz.
            Assert.Contains(Annotation(deployment, "dapr.io/app-health-check-path") ?? "/healthz", MeshRoutes.Mapped);
        }
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_DaprResources_NamedAsInContractsAndScopedToRealAppIds(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        var components = manifests.Where(m => m.Kind == "Component").Select(m => m.Name).Order(StringComparer.Ordinal);
        Assert.Equal(Components.StateStores.Append(Components.PubSub).Order(StringComparer.Ordinal), components);
        foreach (var resource in manifests.Where(m => m.Node.At("apiVersion").Text()?.StartsWith("dapr.io/", StringComparison.Ordinal) == true))
        {
            Assert.All(resource.At("scopes").Texts(), scope => Assert.Contains(scope, AppIds.All));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Render_ComponentMetadataValues_AreStrings(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        Assert.All(manifests.Where(m => m.Kind == "Component"), DaprResourceTests.AssertMetadataValuesAreStrings);
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_NoDeployment_AsksForAGpu(string path)
    {
        // The ranker scores on the CPU until a GPU scorer lands; a GPU reserved per pod would sit idle.
        var manifests = await Manifests.RenderAsync(path);

        Assert.All(manifests.Where(m => m.Kind == "Deployment"), d => Assert.DoesNotContain("nvidia.com/gpu", ResourceNames(AppContainer(d))));
    }

    [Fact]
    public async Task RankerGpuPatch_NotApplied_StillMatchesTheRankerItWouldPatch()
    {
        // deploy/overlays/production/ranker-gpu.yaml waits, unreferenced, for a GPU scorer: keep it applicable.
        var patch = Assert.Single(Manifests.Load("deploy/overlays/production/ranker-gpu.yaml"));
        var ranker = (await Manifests.RenderAsync("overlays/production")).Single(m => m.Kind == "Deployment" && m.Name == AppIds.Ranker);

        Assert.Equal(("Deployment", AppIds.Ranker), (patch.Kind, patch.Name));
        Assert.Equal(ranker.Node.At("apiVersion").Text(), patch.Node.At("apiVersion").Text());
        var container = Assert.Single(patch.At("spec", "template", "spec", "containers").Items());
        Assert.Equal(AppContainer(ranker).At("name").Text(), container.At("name").Text());
        Assert.Equal("1", container.At("resources", "limits", "nvidia.com/gpu").Text());
        Assert.Contains(patch.At("spec", "template", "spec", "tolerations").Items(), t => t.At("key").Text() == "nvidia.com/gpu");
    }

    [Fact]
    public async Task Production_Autoscalers_TargetRouterAndRankerWhoseReplicasTheyOwn()
    {
        var manifests = await Manifests.RenderAsync("overlays/production");

        var hpas = manifests.Where(m => m.Kind == "HorizontalPodAutoscaler").ToList();
        Assert.Equal([AppIds.Ranker, AppIds.Router], hpas.Select(h => h.At("spec", "scaleTargetRef", "name").Text()).Order(StringComparer.Ordinal));
        foreach (var hpa in hpas)
        {
            Assert.Equal("Deployment", hpa.At("spec", "scaleTargetRef", "kind").Text());
            var target = manifests.Single(m => m.Kind == "Deployment" && m.Name == hpa.At("spec", "scaleTargetRef", "name").Text());
            // A fixed count would be reapplied by every `kubectl apply` and fight the autoscaler.
            Assert.Null(target.At("spec", "replicas"));
            Assert.All(
                hpa.At("spec", "metrics").Items().Select(m => m.At("containerResource", "container").Text()).OfType<string>(),
                container => Assert.Equal(target.Name, container));
        }

        Assert.DoesNotContain(await Manifests.RenderAsync("overlays/local"), m => m.Kind == "HorizontalPodAutoscaler");
    }

    [Fact]
    public async Task Production_DisruptionBudgets_SelectRouterAndRankerPods()
    {
        var manifests = await Manifests.RenderAsync("overlays/production");

        foreach (var appId in new[] { AppIds.Router, AppIds.Ranker })
        {
            var pdb = Assert.Single(manifests, m => m.Kind == "PodDisruptionBudget" && m.Name == appId);
            var podLabels = Labels(manifests.Single(m => m.Kind == "Deployment" && m.Name == appId).At("spec", "template", "metadata", "labels"));
            var selector = Labels(pdb.At("spec", "selector", "matchLabels"));
            Assert.NotEmpty(selector);
            Assert.All(selector, l => Assert.Equal(l.Value, podLabels.GetValueOrDefault(l.Key)));
        }
    }

    private static string? Annotation(Manifest deployment, string name) => deployment.At("spec", "template", "metadata", "annotations", name).Text();

    // The app's container is named after the service; daprd is injected at admission, not in the manifest.
    private static YamlNode AppContainer(Manifest deployment) =>
        Assert.Single(deployment.At("spec", "template", "spec", "containers").Items(), c => c.At("name").Text() == deployment.Name);

    // A port given by name refers to a container port of that name.
    private static int? ResolvePort(YamlNode container, string? port) =>
        int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : container.At("ports").Items().Where(p => p.At("name").Text() == port).Select(p => (int?)int.Parse(p.At("containerPort").Text()!, CultureInfo.InvariantCulture)).SingleOrDefault();

    private static Dictionary<string, string?> Labels(YamlNode? node) =>
        node is YamlMappingNode map ? map.Children.ToDictionary(c => c.Key.Text()!, c => c.Value.Text(), StringComparer.Ordinal) : [];

    private static IEnumerable<string> ResourceNames(YamlNode container) =>
        new[] { "requests", "limits" }.SelectMany(k => container.At("resources", k) is YamlMappingNode m ? m.Children.Keys.Select(n => n.Text()!) : []);
}
