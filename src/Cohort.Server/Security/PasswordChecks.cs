namespace Cohort.Server.Security;

/// <summary>
/// Runs the password checks of logins (the Control API's Login and the dashboard's form). Each attempt takes one of its
/// address's failed-login allowance before its PBKDF2 derivation and gives it back when it succeeds, so a burst from one
/// address runs at most the limit's number of derivations. Server-wide, at most <see cref="AtOnce"/> derivations run and
/// <see cref="Queued"/> more wait; a login past that is refused at once. A flood of logins (600,000 iterations each) so
/// keeps most of the thread pool for heartbeats and rounds.
/// </summary>
internal sealed class PasswordChecks(FailedAuthentications failures, int atOnce, int queued)
{
    /// <summary>What a login says when the server-wide bound refuses it.</summary>
    public const string BusyMessage = "too many sign-ins in progress, try again shortly";

    private readonly SemaphoreSlim _slots = new(Math.Max(1, atOnce));
    private int _admitted;
    private int _running;
    private int _peak;
    private long _derivations;

    /// <summary>The default bound: half the processors, at least one.</summary>
    public static int DefaultAtOnce => Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Password checks that may run at once.</summary>
    public int AtOnce => Math.Max(1, atOnce);

    /// <summary>Password checks that may wait for one of <see cref="AtOnce"/>.</summary>
    public int Queued => Math.Max(0, queued);

    /// <summary>Password checks run since the server started.</summary>
    public long Derivations => Interlocked.Read(ref _derivations);

    /// <summary>The most password checks that have run at once.</summary>
    public int Peak => Volatile.Read(ref _peak);

    /// <summary>The outcome of a login: the identity, or a refusal (too many failures, too many logins at once), or neither for a wrong password.</summary>
    /// <param name="Who">The identity when the password was right.</param>
    /// <param name="Refusal">Why the password was not checked, or null.</param>
    public sealed record Outcome(AccessIdentity? Who, string? Refusal);

    /// <summary>Checks a password with <paramref name="verify"/> for a caller counted under <paramref name="caller"/> (see <see cref="FailedAuthentications.KeyOf(System.Net.IPAddress?)"/>).</summary>
    public async Task<Outcome> CheckAsync(string caller, Func<AccessIdentity?> verify, CancellationToken ct)
    {
        if (!failures.TryReserve(caller)) return new Outcome(null, $"too many failed logins from {caller}; wait a minute");
        if (Interlocked.Increment(ref _admitted) > AtOnce + Queued)
        {
            Interlocked.Decrement(ref _admitted);
            failures.GiveBack(caller);
            return new Outcome(null, BusyMessage);
        }
        try
        {
            try
            {
                await _slots.WaitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                failures.GiveBack(caller);
                throw;
            }
            try
            {
                Interlocked.Increment(ref _derivations);
                int running = Interlocked.Increment(ref _running);
                int peak;
                while (running > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, running, peak) != peak) { }
                // Runs on the request's pool thread: handing it to another pool thread frees none, and the bound above is
                // what leaves the rest of the pool to other calls. Waiting callers above hold no thread.
                var who = verify();
                if (who is not null) failures.GiveBack(caller);
                return new Outcome(who, null);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
                _slots.Release();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _admitted);
        }
    }
}
