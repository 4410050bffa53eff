using Cohort.Audit;
using Cohort.Cli.Control;

namespace Cohort.Cli.Audit;

/// <summary>A ledger as read for checking: its lines, the certificates that came with it, its head, and where it came from.</summary>
/// <param name="Origin">Where it was read from (a file, or the server's address).</param>
/// <param name="Lines">The ledger's lines.</param>
/// <param name="CertificatesPem">The signing certificates kept beside it, when any.</param>
/// <param name="Head">Its head, when kept.</param>
internal sealed record LedgerSource(string Origin, IReadOnlyList<string> Lines, string? CertificatesPem, AuditHead? Head)
{
    /// <summary>Reads a ledger file, or the <c>audit.jsonl</c> in a folder, with <c>audit-keys.pem</c> and <c>audit.head</c> beside it.</summary>
    public static LedgerSource FromPath(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, AuditLedger.FileName) : path;
        if (!File.Exists(file))
            throw new CliException(Directory.Exists(path) ? $"{path} holds no audit ledger ({AuditLedger.FileName} not found)" : $"audit ledger {path} not found");
        string dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        string keys = Path.Combine(dir, AuditLedger.KeysFileName), head = Path.Combine(dir, AuditLedger.HeadFileName);
        // The head first: a ledger being appended to is then at least as long as its head.
        var headEntry = File.Exists(head) ? ParseHead(File.ReadAllText(head), head) : null;
        return new LedgerSource(file, AuditLedger.ReadLines(file).ToList(), File.Exists(keys) ? File.ReadAllText(keys) : null, headEntry) { Reload = () => FromPath(path) };
    }

    /// <summary>Reads the ledger again (a file that may be being written); null for a server's, which sends lines its head covers.</summary>
    public Func<LedgerSource>? Reload { get; init; }

    /// <summary>Reads the ledger of a running server through the Control API.</summary>
    public static async Task<LedgerSource> FromServerAsync(ControlClient client, string server, CancellationToken ct)
    {
        var (certificates, head, lines) = await client.ReadAuditLedgerAsync(ct);
        return new LedgerSource($"the ledger of {server}", lines, certificates.Length > 0 ? certificates : null, head.Length > 0 ? ParseHead(head, $"{server}'s ledger head") : null);
    }

    /// <summary>The entries that parse (for display and comparison; verification reports the others).</summary>
    public IEnumerable<AuditEntry> Entries()
    {
        foreach (string line in Lines)
        {
            AuditEntry? entry = null;
            try
            {
                if (line.Length > 0) entry = AuditEntry.Parse(line);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
            }
            if (entry is not null) yield return entry;
        }
    }

    private static AuditHead ParseHead(string text, string where)
    {
        try
        {
            return AuditHead.Parse(text);
        }
        catch (FormatException e)
        {
            throw new CliException($"{where}: {e.Message}");
        }
    }
}
