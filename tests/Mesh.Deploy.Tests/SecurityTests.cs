using System.Globalization;
using Mesh.Contracts;
using YamlDotNet.RepresentationModel;

namespace Mesh.Deploy.Tests;

/// <summary>deploy/ is secure by default: tokens both ways between app and sidecar, non-root read-only containers, and network policies that leave only the router's app port open.</summary>
public sealed class SecurityTests
{
    public static TheoryData<string> AllRenders => KubernetesManifestTests.AllRenders;

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_EveryService_TokensBothWaysFromSecrets(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        foreach (var appId in AppIds.All)
        {
            var deployment = manifests.Single(m => m.Kind == "Deployment" && m.Name == appId);
            var container = AppContainer(deployment);

            // daprd presents the app-token secret to the app, which checks it as APP_API_TOKEN: the same secret.
            Assert.Equal(Annotation(deployment, "dapr.io/app-token-secret"), SecretOf(container, "APP_API_TOKEN"));
            Assert.Equal(Annotation(deployment, "dapr.io/api-token-secret"), SecretOf(container, "DAPR_API_TOKEN"));
            Assert.NotEqual(SecretOf(container, "APP_API_TOKEN"), SecretOf(container, "DAPR_API_TOKEN"));
        }
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_Router_TakesThePublicApiKeysFromAnOptionalSecret(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        var router = AppContainer(manifests.Single(m => m.Kind == "Deployment" && m.Name == AppIds.Router));
        var source = Assert.Single(router.At("envFrom").Items());

        Assert.Equal("mesh-api-keys", source.At("secretRef", "name").Text());
        Assert.Equal("true", source.At("secretRef", "optional").Text());
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_EveryService_NonRootReadOnlyRootFilesystemWritableTmp(string path)
    {
        var manifests = await Manifests.RenderAsync(path);

        foreach (var appId in AppIds.All)
        {
            var deployment = manifests.Single(m => m.Kind == "Deployment" && m.Name == appId);
            var pod = deployment.At("spec", "template", "spec");
            var context = AppContainer(deployment).At("securityContext");

            Assert.Equal("true", pod.At("securityContext", "runAsNonRoot").Text());
            Assert.Equal("RuntimeDefault", pod.At("securityContext", "seccompProfile", "type").Text());
            Assert.Equal("true", context.At("runAsNonRoot").Text());
            Assert.NotEqual(0, int.Parse(context.At("runAsUser").Text()!, CultureInfo.InvariantCulture));
            Assert.Equal("true", context.At("readOnlyRootFilesystem").Text());
            Assert.Equal("false", context.At("allowPrivilegeEscalation").Text());
            Assert.Equal(["ALL"], context.At("capabilities", "drop").Texts());

            // /tmp is the one writable place, and it is an emptyDir, not the image's filesystem.
            var tmp = Assert.Single(AppContainer(deployment).At("volumeMounts").Items(), m => m.At("mountPath").Text() == "/tmp");
            var volume = Assert.Single(pod.At("volumes").Items(), v => v.At("name").Text() == tmp.At("name").Text());
            Assert.NotNull(volume.At("emptyDir"));
        }
    }

    [Theory]
    [MemberData(nameof(AllRenders))]
    public async Task Render_NetworkPolicies_OnlyTheRoutersAppPortOpenToAllOtherAppPortsToNone(string path)
    {
        var manifests = await Manifests.RenderAsync(path);
        var policies = manifests.Where(m => m.Kind == "NetworkPolicy").ToList();

        // Every pod of the namespace is selected by an ingress policy, so what no rule allows is denied.
        Assert.Contains(policies, p => p.At("spec", "podSelector") is YamlMappingNode { Children.Count: 0 } && p.At("spec", "policyTypes").Texts().Contains("Ingress"));
        foreach (var deployment in manifests.Where(m => m.Kind == "Deployment" && AppIds.All.Contains(m.Name)))
        {
            var labels = Labels(deployment.At("spec", "template", "metadata", "labels"));
            var appPort = Annotation(deployment, "dapr.io/app-port")!;
            var rules = policies.Where(p => Selects(p.At("spec", "podSelector"), labels)).SelectMany(p => p.At("spec", "ingress").Items()).ToList();
            var openToAll = rules.Where(r => r.At("from") is null).SelectMany(r => r.At("ports").Items().Select(p => p.At("port").Text())).ToList();
            var appPortRules = rules.Where(r => r.At("ports").Items().Any(p => p.At("port").Text() == appPort)).ToList();

            if (deployment.Name == AppIds.Router)
            {
                Assert.Equal([appPort], openToAll);
            }
            else
            {
                Assert.Empty(openToAll);
                Assert.Empty(appPortRules); // only its own sidecar, over localhost, reaches it
            }

            // Sidecar-to-sidecar (daprd's internal port) only from this namespace's pods.
            var internalRule = Assert.Single(rules, r => r.At("ports").Items().Any(p => p.At("port").Text() == "50002"));
            Assert.All(internalRule.At("from").Items(), f => Assert.Null(f.At("namespaceSelector")));
        }
    }

    /// <summary>A label selector (matchLabels, and matchExpressions with In) against pod labels; an empty selector selects all.</summary>
    private static bool Selects(YamlNode? selector, Dictionary<string, string?> labels) =>
        Labels(selector.At("matchLabels")).All(l => labels.GetValueOrDefault(l.Key) == l.Value)
        && selector.At("matchExpressions").Items().All(e => e.At("operator").Text() == "In" && e.At("values").Texts().Contains(labels.GetValueOrDefault(e.At("key").Text()!) ?? ""));

    private static string? SecretOf(YamlNode container, string variable) =>
        container.At("env").Items().Single(e => e.At("name").Text() == variable).At("valueFrom", "secretKeyRef", "name").Text();

    private static string? Annotation(Manifest deployment, string name) => deployment.At("spec", "template", "metadata", "annotations", name).Text();

    private static YamlNode AppContainer(Manifest deployment) =>
        Assert.Single(deployment.At("spec", "template", "spec", "containers").Items(), c => c.At("name").Text() == deployment.Name);

    private static Dictionary<string, string?> Labels(YamlNode? node) =>
        node is YamlMappingNode map ? map.Children.ToDictionary(c => c.Key.Text()!, c => c.Value.Text(), StringComparer.Ordinal) : [];
}
