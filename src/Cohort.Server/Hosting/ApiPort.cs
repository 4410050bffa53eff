namespace Cohort.Server.Hosting;

/// <summary>
/// The port the Fleet and Control APIs listen on, once bound. Both listeners speak HTTP/2 under TLS, so without a check
/// the APIs would answer on the dashboard's port too, the one an operator publishes to browsers.
/// </summary>
/// <param name="bound">Reads the bound port (an ephemeral one is known only after the start).</param>
internal sealed class ApiPort(Func<int> bound)
{
    /// <summary>The port.</summary>
    public int Value => bound();
}
