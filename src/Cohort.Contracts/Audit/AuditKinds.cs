namespace Cohort.Audit;

/// <summary>The kinds of events the server's and the nodes' ledgers record.</summary>
public static class AuditKinds
{
    /// <summary>A process opened the ledger to append (server or node start); names the signing key.</summary>
    public const string LedgerOpened = "ledger.opened";

    /// <summary>A torn last line (a crash during a write) was cut off when the ledger was opened.</summary>
    public const string LedgerRepaired = "ledger.repaired";

    /// <summary>Entries a flood would have written and the ledger left out: how many, of what, over what time.</summary>
    public const string EntriesLeftOut = "ledger.left_out";

    /// <summary>A node registered (with the certificate it presented, if any).</summary>
    public const string NodeRegistered = "node.registered";

    /// <summary>A node's process said it is stopping (Fleet.Leave) and the server took it offline.</summary>
    public const string NodeLeft = "node.left";

    /// <summary>A node's registration or call was refused (second process, unknown token).</summary>
    public const string NodeRefused = "node.refused";

    /// <summary>A client certificate was refused (missing under mutual TLS, revoked, wrong name or kind, lesser role).</summary>
    public const string CertificateRefused = "certificate.refused";

    /// <summary>An operator call was refused (missing or wrong admin token), or a dashboard request whose credential failed.</summary>
    public const string ControlRefused = "control.refused";

    /// <summary>Someone logged in (dashboard or Control API).</summary>
    public const string LoginSucceeded = "login.succeeded";

    /// <summary>A login failed (dashboard or Control API).</summary>
    public const string LoginFailed = "login.failed";

    /// <summary>A named user was added or removed, or their role changed.</summary>
    public const string UserChanged = "user.changed";

    /// <summary>A run was submitted.</summary>
    public const string RunSubmitted = "run.submitted";

    /// <summary>An operator stopped a run.</summary>
    public const string RunStopped = "run.stopped";

    /// <summary>The server delivered a task (with the digest of the parameters sent).</summary>
    public const string TaskSent = "task.sent";

    /// <summary>The server accepted a node's result (with the digest of the parameters received).</summary>
    public const string ResultAccepted = "result.accepted";

    /// <summary>The server rejected a node's result, with the reason.</summary>
    public const string ResultRejected = "result.rejected";

    /// <summary>A node reported that its task failed.</summary>
    public const string ResultFailed = "result.failed";

    /// <summary>A global model was downloaded.</summary>
    public const string ModelDownloaded = "model.downloaded";

    /// <summary>A node or viewer token (and certificate) was issued.</summary>
    public const string TokenCreated = "token.created";

    /// <summary>A node or operator token was revoked: its hash is deleted and it authenticates nothing.</summary>
    public const string TokenRevoked = "token.revoked";

    /// <summary>An operator removed a node that had left (its row in the node list).</summary>
    public const string NodeRemoved = "node.removed";

    /// <summary>The node received a task (with the digest of the parameters received).</summary>
    public const string TaskReceived = "task.received";

    /// <summary>The node sent a result (with the digest of the parameters sent and the server's answer).</summary>
    public const string ResultSent = "result.sent";

    /// <summary>
    /// The kinds every round writes several of (a task sent or received, a result accepted or sent). In a signed
    /// ledger these are signed at most once per <see cref="AuditLedger.DefaultSignSpacing"/>; every other kind is
    /// signed as it is written. A later signature covers them through the hash chain.
    /// </summary>
    public static bool IsRoutine(string kind) => kind is TaskSent or ResultAccepted or TaskReceived or ResultSent;
}
