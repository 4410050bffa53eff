using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cohort.Cli.Commands;

/// <summary>
/// How every benchmark reports: one "name value" line per figure, and the same figures as JSON when
/// asked, led by the provenance a reader needs to judge them (commit, command line, CPU model, flags
/// and SIMD width, cores, load average at start and end, runtime and library versions).
/// </summary>
internal static class BenchFigures
{
    private static readonly string[] SimdFlags = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile"];

    /// <summary>How long what an earlier run left waits in <c>.cohort/trash</c> before a later run deletes it.</summary>
    private static readonly TimeSpan TrashKept = TimeSpan.FromHours(1);

    /// <summary>
    /// An empty folder <c>.cohort/NAME</c> for a benchmark's data; its full path. What an earlier run left there is moved to
    /// <c>.cohort/trash</c>, and deleted by a run an hour or more later: on an ext4 file system without a journal every
    /// file created in the minutes after many were deleted costs the kernel a scan past them (it skips inodes freed
    /// lately), so a bench that deleted its last run's thousands of files just before measuring measured that too. The run
    /// that deletes hour-old trash pays for that deletion in the same way: before a series of measurements, delete
    /// <c>.cohort/trash</c> a few minutes ahead.
    /// </summary>
    public static string FreshFolder(string name)
    {
        string dir = Path.GetFullPath(Path.Combine(".cohort", name));
        string trash = Path.GetFullPath(Path.Combine(".cohort", "trash"));
        if (Directory.Exists(trash))
        {
            foreach (var old in Directory.GetDirectories(trash).Where(d => DateTime.UtcNow - Directory.GetLastWriteTimeUtc(d) > TrashKept))
                Directory.Delete(old, recursive: true);
        }
        if (Directory.Exists(dir))
        {
            Directory.CreateDirectory(trash);
            string moved = Path.Combine(trash, $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss-fffffff}");
            Directory.Move(dir, moved);
            // Its age in the trash counts from now.
            Directory.SetLastWriteTimeUtc(moved, DateTime.UtcNow);
        }
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static JsonObject RuntimeEnvironment()
    {
        var variables = new JsonObject();
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            variables[key] = Environment.GetEnvironmentVariable(key);
        return variables;
    }

    /// <summary>A figures object holding the provenance of this process and the given settings; prints the machine line.</summary>
    public static JsonObject Begin(JsonObject? settings = null)
    {
        var figures = new JsonObject
        {
            ["commit"] = Git("rev-parse", "HEAD"),
            // The commit this program was built from (its version's "+sha"): the only one on record for a binary run outside
            // the repository (a published or AOT build in another folder), where "commit" is null.
            ["build_commit"] = BuildCommit(),
            // Results written by earlier benchmarks do not make the code that measures dirty.
            ["commit_dirty"] = Git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results") is { Length: > 0 },
            ["command_line"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Prepend("cohort")),
            ["started_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["machine"] = Machine.Describe(),
            ["cpu_model"] = Machine.CpuModel(),
            ["cpu_flags_simd"] = new JsonArray(Machine.CpuFlags().Intersect(SimdFlags).Select(f => (JsonNode)f).ToArray()),
            ["cpu_simd_width_bits"] = Machine.SimdWidthBits(),
            ["cpu_cores"] = Environment.ProcessorCount,
            ["load_average_start"] = LoadAverage(),
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            // Native AOT (deploy/publish.sh --aot) or JIT-compiled (./cohort, the trimmed binary): the same code, other machine code.
            ["build"] = System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "jit" : "native-aot",
            ["os"] = RuntimeInformation.OSDescription,
            ["library_versions"] = LibraryVersions(),
            // Runtime settings given by environment (JIT, GC) change what is measured, and every process the bench starts inherits them.
            ["runtime_environment"] = RuntimeEnvironment(),
        };
        if (settings is not null)
        {
            foreach (var (key, value) in settings.ToArray())
            {
                settings.Remove(key);
                figures[key] = value;
            }
        }
        Console.WriteLine($"machine {Machine.Describe()}; load average {figures["load_average_start"]}; commit {figures["commit"]}; built from {figures["build_commit"]}");
        return figures;
    }

    /// <summary>Prints a figure and records it (rounded to <paramref name="decimals"/>; a non-finite value is recorded as null).</summary>
    public static void Print(JsonObject figures, string name, double value, int decimals = 3)
    {
        Console.WriteLine($"{name} {value.ToString("0." + new string('#', decimals), CultureInfo.InvariantCulture)}");
        figures[name] = double.IsFinite(value) ? Math.Round(value, decimals) : null;
    }

    /// <summary>Prints per-seed (or per-repeat) values on one line and records them as an array (a non-finite value as null).</summary>
    public static void PrintValues(JsonObject figures, string name, IEnumerable<double> values, int decimals = 4)
    {
        var rounded = values.Select(v => Math.Round(v, decimals)).ToArray();
        Console.WriteLine($"{name} {string.Join(',', rounded.Select(v => v.ToString(CultureInfo.InvariantCulture)))}");
        figures[name] = new JsonArray(rounded.Select(v => double.IsFinite(v) ? (JsonNode?)v : null).ToArray());
    }

    /// <summary>
    /// Writes the figures to <paramref name="file"/> as indented JSON, creating its folder; adds the
    /// load average at the end (and the provenance when the figures did not start from <see cref="Begin"/>).
    /// </summary>
    public static async Task SaveAsync(JsonObject figures, string file, CancellationToken ct)
    {
        if (!figures.ContainsKey("commit"))
        {
            var provenance = Begin();
            foreach (var (key, value) in provenance.ToArray())
            {
                provenance.Remove(key);
                figures[key] = value;
            }
        }
        figures["load_average_end"] = LoadAverage();
        figures["finished_at"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        await File.WriteAllTextAsync(file, figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }), ct);
    }

    /// <summary>The 1-, 5- and 15-minute load averages ("" where /proc/loadavg is unreadable).</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static JsonObject LibraryVersions()
    {
        var versions = new JsonObject();
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => a.GetName().Name is { } n && (n.StartsWith("Cohort.", StringComparison.Ordinal) || n is "System.Numerics.Tensors" or "Microsoft.Data.Sqlite" or "Grpc.Net.Client" or "YamlDotNet"))
            .OrderBy(a => a.GetName().Name, StringComparer.Ordinal))
        {
            versions[assembly.GetName().Name!] = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString();
        }
        // Referenced but maybe not loaded yet: the tensor primitives every kernel uses.
        if (!versions.ContainsKey("System.Numerics.Tensors"))
            versions["System.Numerics.Tensors"] = typeof(System.Numerics.Tensors.TensorPrimitives).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return versions;
    }

    /// <summary>The commit in this program's informational version (<c>0.1.0+SHA</c>, set by the SDK from git at build time), or null.</summary>
    internal static string? BuildCommit()
    {
        string? version = typeof(BenchFigures).Assembly.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        int plus = version?.IndexOf('+', StringComparison.Ordinal) ?? -1;
        return plus < 0 ? null : version![(plus + 1)..];
    }

    private static string? Git(params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) info.ArgumentList.Add(a);
            using var git = Process.Start(info);
            if (git is null) return null;
            string output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
