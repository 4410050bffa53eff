using Cohort.Engine.State;
using Cohort.Server.Hosting;

namespace Cohort.Server.Dashboard;

/// <summary>Plans the dashboard offers when starting a run: files in the configured plan folders, and earlier runs' plans.</summary>
internal sealed class PlanLibrary(ServerOptions options, IStateStore store)
{
    /// <summary>A plan to start from: key ("file:NAME" or "run:ID"), label and YAML.</summary>
    public sealed record Entry(string Key, string Label, string Yaml);

    /// <summary>Plan files (*.yaml, *.yml) up to two folders deep under each plan folder, then the plans of the 20 newest runs.</summary>
    public async Task<IReadOnlyList<Entry>> ListAsync(CancellationToken ct)
    {
        var list = new List<Entry>();
        foreach (var dir in options.PlanDirectories.Where(Directory.Exists))
        {
            var root = Path.GetFullPath(dir);
            var files = Directory.EnumerateFiles(root, "*.y*ml", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2 })
                .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
            foreach (var f in files)
            {
                string rel = Path.GetRelativePath(root, f);
                list.Add(new Entry("file:" + rel, rel, await File.ReadAllTextAsync(f, ct)));
            }
        }
        foreach (var run in (await store.ListRunsAsync(null, ct)).Take(20))
            list.Add(new Entry("run:" + run.Id, $"as run {run.Id}", run.PlanYaml));
        return list;
    }
}
