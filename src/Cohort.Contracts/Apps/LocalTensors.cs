using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// One node's own copies of the tensors a plan keeps local (personalisation): substituted into what the
/// server sends, refreshed from what the app trains, stripped from what leaves the site.
/// </summary>
internal sealed class LocalTensors
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Tensor> _local = new(StringComparer.Ordinal);

    /// <summary>The local-tensor patterns a task's settings name, or null when they name none.</summary>
    public static Personalization? Patterns(Clients.TaskSettings settings) =>
        settings.LocalParameters.Count > 0 ? new Personalization { Local = settings.LocalParameters } : null;

    /// <summary>The local-tensor patterns a task's config names (the <see cref="PersonalizedClientApp"/> wrapper's key), or null when it names none.</summary>
    public static Personalization? Patterns(Config config) =>
        config.GetStringOrNull(PersonalizedClientApp.LocalParametersKey) is { Length: > 0 } text
            ? new Personalization { Local = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) }
            : null;

    /// <summary>The sent parameters with this node's own trained copies in place of the local tensors it has.</summary>
    public ParameterSet WithLocal(ParameterSet parameters, Personalization patterns)
    {
        lock (_gate)
        {
            if (_local.Count == 0) return parameters;
            // The server's copy of a local tensor is only its initial value: the node's own trained copy replaces it.
            return new ParameterSet(parameters.Select(t => patterns.IsLocal(t.Name) && _local.TryGetValue(t.Name, out var mine) && mine.HasSameSpec(t) ? mine.Clone() : t));
        }
    }

    /// <summary>Keeps copies of the trained local tensors and returns the rest, the part that may leave the site.</summary>
    public ParameterSet Keep(ParameterSet trained, Personalization patterns)
    {
        var shared = new List<Tensor>(trained.Count);
        lock (_gate)
        {
            foreach (var t in trained)
            {
                if (patterns.IsLocal(t.Name)) _local[t.Name] = t.Clone();
                else shared.Add(t);
            }
        }
        return new ParameterSet(shared);
    }
}
