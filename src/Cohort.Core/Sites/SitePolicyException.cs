namespace Cohort.Sites;

/// <summary>A site policy file that cannot be used; the message names the file, line and column and the key.</summary>
public sealed class SitePolicyException(string message) : Exception(message);
