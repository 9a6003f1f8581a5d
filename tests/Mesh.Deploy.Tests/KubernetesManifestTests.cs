using System.Globalization;
using Mesh.Contracts;
using YamlDotNet.RepresentationModel;

namespace Mesh.Deploy.Tests;

/// <summary>deploy/ as kubectl renders it: every service deployable under its app-id, wired to ports and routes that exist.</summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => ["overlays/local", "overlays/production", ProductionGpu];

    public static TheoryData<string> AllRenders => ["base", "overlays/local", "overlays/production", ProductionGpu];

    /// <summary>Every render but <see cref="ProductionGpu"/>: the ranker on the CPU.</summary>
    public static TheoryData<string> CpuRenders => ["base", "overlays/local", "overlays/production"];

    public static TheoryData<string> ProductionRenders => ["overlays/production", ProductionGpu];

    /// <summary>overlays/production plus ranker-gpu.yaml: the only render with a GPU in it.</summary>
    private const string ProductionGpu = "overlays/production-gpu";

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
    [MemberData(nameof(CpuRenders))]
    public async Task Render_NoDeployment_AsksForAGpu(string path)
    {
        // A GPU is chosen by applying overlays/production-gpu; anywhere else one reserved per pod would sit idle, and on
        // a cluster without GPU nodes hold the pod Pending.
        var manifests = await Manifests.RenderAsync(path);

        Assert.All(manifests.Where(m => m.Kind == "Deployment"), d => Assert.DoesNotContain(Gpu, ResourceNames(d)));
    }

    [Theory]
    [MemberData(nameof(CpuRenders))]
    public async Task Render_Ranker_RunsTheCpuImageOnTheCpu(string path)
    {
        // mesh/ranker carries ONNX Runtime's CPU build: a cuda target there stops the ranker at start-up.
        var ranker = AppContainer((await Manifests.RenderAsync(path)).Single(m => m.Kind == "Deployment" && m.Name == AppIds.Ranker));

        Assert.Equal("mesh/ranker", ImageRepository(ranker));
        Assert.DoesNotContain(Env(ranker).Keys, k => k.StartsWith("Ranker__Devices", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ProductionGpu_Ranker_OneGpuPerPodOnGpuNodesRunningTheGpuImageOnCuda0()
    {
        var deployment = (await Manifests.RenderAsync(ProductionGpu)).Single(m => m.Kind == "Deployment" && m.Name == AppIds.Ranker);
        var ranker = AppContainer(deployment);

        // Extended resources are whole units with request equal to limit; one GPU per pod matches one target per pod.
        Assert.Equal("1", ranker.At("resources", "requests", Gpu).Text());
        Assert.Equal("1", ranker.At("resources", "limits", Gpu).Text());
        Assert.Equal("mesh/ranker-gpu", ImageRepository(ranker));
        var env = Env(ranker);
        Assert.Equal("cuda:0", env.GetValueOrDefault("Ranker__Devices__0"));
        Assert.Equal(["Ranker__Devices__0"], env.Keys.Where(k => k.StartsWith("Ranker__Devices", StringComparison.Ordinal)));
        // A GPU pod that cannot use its GPU fails its start-up rather than serving on the CPU.
        Assert.Equal("false", env.GetValueOrDefault("Ranker__AllowCpuFallback"));
        Assert.Equal("true", deployment.At("spec", "template", "spec", "nodeSelector", "nvidia.com/gpu.present").Text());
        Assert.Contains(deployment.At("spec", "template", "spec", "tolerations").Items(), t => t.At("key").Text() == Gpu);
    }

    [Fact]
    public async Task ProductionGpu_NothingButTheRanker_AsksForAGpu()
    {
        var manifests = await Manifests.RenderAsync(ProductionGpu);

        Assert.All(
            manifests.Where(m => m.Kind == "Deployment" && m.Name != AppIds.Ranker),
            d => Assert.DoesNotContain(Gpu, ResourceNames(d)));
        var ranker = manifests.Single(m => m.Kind == "Deployment" && m.Name == AppIds.Ranker);
        Assert.All(
            Containers(ranker).Where(c => c.At("name").Text() != AppIds.Ranker),
            c => Assert.DoesNotContain(Gpu, ResourceNames(c)));
    }

    [Fact]
    public async Task ProductionGpu_AllButTheRankerGpuPatch_IsProduction()
    {
        var production = await Manifests.RenderAsync("overlays/production");
        var gpu = await Manifests.RenderAsync(ProductionGpu);

        Assert.Equal(production.Select(m => (m.Kind, m.Name)).Order(), gpu.Select(m => (m.Kind, m.Name)).Order());
        foreach (var expected in production.Where(m => (m.Kind, m.Name) != ("Deployment", AppIds.Ranker)))
        {
            Assert.Equal(Serialize(expected.Node), Serialize(gpu.Single(m => (m.Kind, m.Name) == (expected.Kind, expected.Name)).Node));
        }

        // The GPU ranker less what ranker-gpu.yaml adds, with production's image, is production's ranker.
        var productionRanker = production.Single(m => m.Kind == "Deployment" && m.Name == AppIds.Ranker);
        var ranker = Assert.Single(Manifests.Parse(Serialize(gpu.Single(m => m.Kind == "Deployment" && m.Name == AppIds.Ranker).Node)));
        var pod = (YamlMappingNode)ranker.At("spec", "template", "spec")!;
        pod.Children.Remove("nodeSelector");
        pod.Children.Remove("tolerations");
        var container = (YamlMappingNode)AppContainer(ranker);
        container.Children["image"] = new YamlScalarNode(AppContainer(productionRanker).At("image").Text());
        ((YamlMappingNode)container.At("resources", "requests")!).Children.Remove(Gpu);
        ((YamlMappingNode)container.At("resources", "limits")!).Children.Remove(Gpu);
        var env = (YamlSequenceNode)container.At("env")!;
        foreach (var added in env.Children.Where(e => e.At("name").Text() is "Ranker__Devices__0" or "Ranker__AllowCpuFallback").ToList())
        {
            env.Children.Remove(added);
        }

        Assert.Equal(Serialize(productionRanker.Node), Serialize(ranker.Node));
    }

    [Theory]
    [MemberData(nameof(ProductionRenders))]
    public async Task Production_Autoscalers_TargetRouterAndRankerWhoseReplicasTheyOwn(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

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

    [Theory]
    [MemberData(nameof(ProductionRenders))]
    public async Task Production_DisruptionBudgets_SelectRouterAndRankerPods(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        foreach (var appId in new[] { AppIds.Router, AppIds.Ranker })
        {
            var pdb = Assert.Single(manifests, m => m.Kind == "PodDisruptionBudget" && m.Name == appId);
            var podLabels = Labels(manifests.Single(m => m.Kind == "Deployment" && m.Name == appId).At("spec", "template", "metadata", "labels"));
            var selector = Labels(pdb.At("spec", "selector", "matchLabels"));
            Assert.NotEmpty(selector);
            Assert.All(selector, l => Assert.Equal(l.Value, podLabels.GetValueOrDefault(l.Key)));
        }
    }

    private const string Gpu = "nvidia.com/gpu";

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

    private static IEnumerable<YamlNode> Containers(Manifest deployment) =>
        new[] { "initContainers", "containers" }.SelectMany(k => deployment.At("spec", "template", "spec", k).Items());

    private static IEnumerable<string> ResourceNames(Manifest deployment) => Containers(deployment).SelectMany(ResourceNames);

    private static IEnumerable<string> ResourceNames(YamlNode container) =>
        new[] { "requests", "limits" }.SelectMany(k => container.At("resources", k) is YamlMappingNode m ? m.Children.Keys.Select(n => n.Text()!) : []);

    private static Dictionary<string, string?> Env(YamlNode container) =>
        container.At("env").Items().ToDictionary(e => e.At("name").Text()!, e => e.At("value").Text(), StringComparer.Ordinal);

    // registry/name:tag or name@digest -> registry/name (a ':' after the last '/' starts the tag, not a registry port).
    private static string ImageRepository(YamlNode container)
    {
        var image = container.At("image").Text() ?? string.Empty;
        image = image.Split('@')[0];
        var tag = image.LastIndexOf(':');
        return tag > image.LastIndexOf('/') ? image[..tag] : image;
    }

    private static string Serialize(YamlNode node)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        new YamlStream(new YamlDocument(node)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }
}
