namespace Cohort.Apps;

/// <summary>An app setting, node setting or task config value is missing or wrong; the message names the key and what is allowed.</summary>
public sealed class AppConfigurationException(string message) : Exception(message);
