namespace Cohort.Apps;

/// <summary>An app setting, node setting or task config value is missing or wrong; the message names the key and what is allowed.</summary>
public sealed class AppConfigurationException(string message, string? key = null) : Exception(message)
{
    /// <summary>The setting the problem is about, when it concerns one.</summary>
    public string? Key { get; } = key;

    /// <summary>True when the setting is not known at all (a typo), rather than known with a wrong value.</summary>
    public bool IsUnknownKey { get; init; }
}
