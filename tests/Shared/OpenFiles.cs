namespace Cohort.Tests.Shared;

/// <summary>What this test process holds open, from <c>/proc/self/fd</c> (Linux): a stopped component must leave none of its files there.</summary>
internal static class OpenFiles
{
    /// <summary>The paths of this process's open files under <paramref name="prefix"/> (a deleted one ends in " (deleted)").</summary>
    public static string[] Under(string prefix) => Directory.GetFiles("/proc/self/fd")
        .Select(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                return null; // closed while listed
            }
        })
        .OfType<string>()
        .Where(target => target.StartsWith(prefix, StringComparison.Ordinal))
        .ToArray();
}
