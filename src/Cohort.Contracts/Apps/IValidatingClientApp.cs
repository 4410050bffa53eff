namespace Cohort.Apps;

/// <summary>
/// A client app factory (or, for a node that runs one app instance, the app) that can check a run's
/// app settings against this site's data without training: the preflight a server runs when a plan is
/// submitted, and <c>cohort simulate</c> runs on its data before round 1.
/// </summary>
public interface IValidatingClientApp
{
    /// <summary>
    /// Every problem found with <paramref name="context"/>'s app settings on the data its node settings
    /// name (<c>data</c>: the path; absent when there is no data to check, e.g. synthetic): unknown or
    /// invalid settings, missing columns, a label the rule cannot read, undeclared categories, wrong
    /// types. One line each, naming the setting or column; empty when the run can go ahead. Never throws
    /// for bad settings or data. The lines go to the server: they must not quote the data (its values, the
    /// lines they are on); write those to <see cref="ClientAppContext.SiteLog"/>, which stays on the site.
    /// </summary>
    IReadOnlyList<string> Validate(ClientAppContext context);
}
