using System.Diagnostics;
using k8s;

namespace Cohort.Deploy.Tests;

/// <summary>Renders a kustomize overlay under deploy/kubernetes/overlays with <c>kubectl kustomize</c> and parses it strictly.</summary>
public static class RenderedManifests
{
    /// <summary>The repository's root folder (the one holding Cohort.slnx).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The overlay folders, by name.</summary>
    public static IReadOnlyList<string> Overlays =>
        Directory.GetDirectories(Path.Combine(Root, "deploy", "kubernetes", "overlays")).Select(Path.GetFileName).Order().ToArray()!;

    /// <summary>The rendered YAML of one overlay.</summary>
    public static string Render(string overlay)
    {
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("kustomize");
        psi.ArgumentList.Add(Path.Combine(Root, "deploy", "kubernetes", "overlays", overlay));
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("kubectl not found on PATH: it renders the kustomize overlays (apt-get install kubernetes-client)", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(60_000)) throw new TimeoutException($"kubectl kustomize {overlay} did not finish in 60 s");
            if (process.ExitCode != 0) throw new InvalidOperationException($"kubectl kustomize {overlay} failed: {stderr}");
            return stdout.Result;
        }
    }

    /// <summary>The overlay's objects, parsed strictly: an unknown field or a wrong type fails with its position.</summary>
    public static IReadOnlyList<object> Load(string overlay) => KubernetesYaml.LoadAllFromString(Render(overlay), strict: true);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cohort.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("Cohort.slnx not found above " + AppContext.BaseDirectory);
    }
}
