using k8s;
using k8s.Models;

namespace Cohort.Deploy.Tests;

public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new(RenderedManifests.Overlays);

    public static TheoryData<string, string> Sites => new()
    {
        { "cleveland", "processed.cleveland.data" },
        { "hungarian", "processed.hungarian.data" },
        { "switzerland", "processed.switzerland.data" },
    };

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_overlay_renders_to_manifests_that_parse_strictly_into_one_namespace(string overlay)
    {
        var objects = RenderedManifests.Load(overlay);

        Assert.NotEmpty(objects);
        var namespaced = objects.OfType<IKubernetesObject<V1ObjectMeta>>().Where(o => o is not V1Namespace).ToList();
        Assert.All(namespaced, o => Assert.False(string.IsNullOrEmpty(o.Metadata.NamespaceProperty), $"{o.Kind} {o.Metadata.Name} has no namespace"));
        Assert.Single(namespaced.Select(o => o.Metadata.NamespaceProperty).Distinct());
        Assert.Contains(objects, o => o is V1Namespace ns && ns.Metadata.Name == namespaced[0].Metadata.NamespaceProperty);
    }

    [Fact]
    public void Strict_parsing_refuses_a_misspelt_field()
    {
        string yaml = RenderedManifests.Render("coordinator").Replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:");

        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(yaml, strict: true));
    }

    [Fact]
    public void Server_is_a_non_root_statefulset_with_a_data_volume_probes_and_a_service()
    {
        var objects = RenderedManifests.Load("coordinator");

        var server = Assert.Single(objects.OfType<V1StatefulSet>());
        Assert.Equal("cohort-coordinator", server.Metadata.NamespaceProperty);
        Assert.Equal(1, server.Spec.Replicas);
        var claim = Assert.Single(server.Spec.VolumeClaimTemplates);
        var container = Assert.Single(server.Spec.Template.Spec.Containers);
        Assert.Contains(container.VolumeMounts, m => m.Name == claim.Metadata.Name && m.MountPath == "/data");
        Assert.Equal(["server", "--host", "0.0.0.0", "--data-dir", "/data"], container.Args.Take(5));
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.All(new[] { container.LivenessProbe, container.ReadinessProbe, container.StartupProbe }, p =>
        {
            Assert.Equal("HTTPS", p.HttpGet.Scheme);
            Assert.Equal("dashboard", p.HttpGet.Port.Value);
        });
        AssertLockedDown(server.Spec.Template.Spec);

        var service = Assert.Single(objects.OfType<V1Service>());
        Assert.Equal([7300, 7301], service.Spec.Ports.Select(p => p.Port).Order());
        Assert.Equal(server.Spec.Selector.MatchLabels, service.Spec.Selector);
    }

    [Theory]
    [MemberData(nameof(Sites))]
    public void Each_site_runs_one_node_in_its_own_namespace_with_its_token_ca_and_data(string site, string dataFile)
    {
        var objects = RenderedManifests.Load(site);

        var node = Assert.Single(objects.OfType<V1Deployment>());
        Assert.Equal($"hospital-{site}", node.Metadata.NamespaceProperty);
        var container = Assert.Single(node.Spec.Template.Spec.Containers);
        var args = container.Args.ToList();
        Assert.Equal(site, args[args.IndexOf("--name") + 1]);
        Assert.Equal($"/site/{dataFile}", args[args.IndexOf("--data") + 1]);
        Assert.True(File.Exists(Path.Combine(RenderedManifests.Root, "examples", "heart-disease", "data", dataFile)));
        var token = Assert.Single(container.Env, e => e.Name == "COHORT_NODE_TOKEN");
        Assert.Equal("cohort-node", token.ValueFrom.SecretKeyRef.Name);
        var volumes = node.Spec.Template.Spec.Volumes;
        Assert.Contains(volumes, v => v.Secret?.SecretName == "cohort-node" && v.Secret.Items.Any(i => i.Key == "ca.crt"));
        var data = Assert.Single(volumes, v => v.PersistentVolumeClaim is not null);
        Assert.Contains(objects.OfType<V1PersistentVolumeClaim>(), c => c.Metadata.Name == data.PersistentVolumeClaim.ClaimName);
        Assert.Contains(container.VolumeMounts, m => m.Name == data.Name && m.MountPath == "/site" && m.ReadOnlyProperty == true);
        AssertLockedDown(node.Spec.Template.Spec);
    }

    [Fact]
    public void Postgres_overlay_takes_the_connection_string_from_a_secret()
    {
        var server = Assert.Single(RenderedManifests.Load("coordinator-postgres").OfType<V1StatefulSet>());

        var env = Assert.Single(server.Spec.Template.Spec.Containers[0].Env, e => e.Name == "COHORT_DATABASE");
        Assert.Equal("cohort-database", env.ValueFrom.SecretKeyRef.Name);
        Assert.Equal("connection-string", env.ValueFrom.SecretKeyRef.Key);
    }

    private static void AssertLockedDown(V1PodSpec pod)
    {
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(10001, pod.SecurityContext.RunAsUser);
        var container = Assert.Single(pod.Containers);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Contains(container.VolumeMounts, m => m.MountPath == "/tmp");
    }
}
