namespace Cohort.Apps;

/// <summary>
/// A problem with a site's data whose message quotes the data (a value, the line it is on) so that the
/// site can find and fix it. That message stays on the node, in its log; only <see cref="SharedMessage"/>,
/// which says what is wrong without quoting the data, goes to the server, where operators and viewers read it.
/// </summary>
public class SiteDataException : Exception
{
    /// <summary>Creates the error: <paramref name="message"/> for the site, <paramref name="sharedMessage"/> for the server.</summary>
    public SiteDataException(string message, string sharedMessage, Exception? inner = null)
        : base(message, inner)
    {
        SharedMessage = sharedMessage;
    }

    /// <summary>What is wrong, without values or line numbers from the data: what the server may be told.</summary>
    public string SharedMessage { get; }

    /// <summary>
    /// What of <paramref name="e"/> may leave the site: the <see cref="SharedMessage"/> of the first
    /// <see cref="SiteDataException"/> among it and its inner exceptions, else its message.
    /// </summary>
    public static string Shareable(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is SiteDataException s) return s.SharedMessage;
        return e.Message;
    }
}
