using Cohort.Apps;

namespace Cohort.Cli.Plugins;

/// <summary>The client apps a node or simulation can run: the built-ins plus those plugins add, one per name.</summary>
internal sealed class AppCatalog
{
    private readonly Dictionary<string, (IClientAppFactory Factory, string Origin)> _apps = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A catalog of the built-in apps.</summary>
    public static AppCatalog CreateDefault()
    {
        var catalog = new AppCatalog();
        foreach (var f in BuiltInApps.Factories()) catalog.Add(f, "built-in");
        return catalog;
    }

    /// <summary>Adds an app; a name already there is refused, naming both origins.</summary>
    public void Add(IClientAppFactory factory, string origin)
    {
        if (_apps.TryGetValue(factory.Name, out var existing))
            throw new CliException($"app '{factory.Name}' from {origin} clashes with app '{existing.Factory.Name}' from {existing.Origin}");
        _apps.Add(factory.Name, (factory, origin));
    }

    /// <summary>All apps, in the order added.</summary>
    public IReadOnlyList<IClientAppFactory> Factories => _apps.Values.Select(a => a.Factory).ToArray();

    /// <summary>The names, comma-separated, for help and errors.</summary>
    public string Names => string.Join(", ", _apps.Values.Select(a => a.Factory.Name));

    /// <summary>The app called <paramref name="name"/> (case-insensitive), or null.</summary>
    public IClientAppFactory? Find(string name) => _apps.TryGetValue(name, out var a) ? a.Factory : null;
}
