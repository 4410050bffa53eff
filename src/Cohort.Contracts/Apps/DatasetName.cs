namespace Cohort.Apps;

/// <summary>The rule for data set names, shared by <c>cohort node --data NAME=PATH</c> and a plan's <c>dataset</c> key.</summary>
public static class DatasetName
{
    /// <summary>Longest name allowed.</summary>
    public const int MaxLength = 64;

    /// <summary>True for 1-64 letters, digits, '-', '_' or '.'.</summary>
    public static bool IsValid(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>What a valid name looks like, for error messages.</summary>
    public const string Rule = "1-64 letters, digits, '-', '_' or '.'";
}
