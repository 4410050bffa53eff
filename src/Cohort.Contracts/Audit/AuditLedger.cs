using System.Diagnostics;
using System.Text;

namespace Cohort.Audit;

/// <summary>
/// An append-only, hash-chained ledger of security-relevant events in a folder: <c>audit.jsonl</c> (one JSON entry
/// a line, owner-only), <c>audit-keys.pem</c> (the certificates of every key that signed it) and <c>audit.head</c>
/// (the last entry as of the last sync). Each entry's hash covers its fields and the previous entry's hash, so a
/// signature of one entry's hash vouches for every entry before it. In a signed ledger every entry is signed except
/// routine ones (<see cref="AuditKinds.IsRoutine"/>, several a round), which are signed at most once per sign
/// spacing, and the head is signed at every sync: each entry is covered by its own signature, a later entry's or
/// the head's. Every append reaches the operating system before it returns (it survives a crash of the process);
/// the file is flushed to disk, and the head rewritten, at most once per sync interval. One process appends at a time.
/// </summary>
public sealed class AuditLedger : IDisposable
{
    /// <summary>The ledger file's name.</summary>
    public const string FileName = "audit.jsonl";

    /// <summary>The file of the signing certificates.</summary>
    public const string KeysFileName = "audit-keys.pem";

    /// <summary>The lock file's name: the writing process holds it exclusively while the ledger is open.</summary>
    public const string LockFileName = "audit.lock";

    /// <summary>The head file's name.</summary>
    public const string HeadFileName = "audit.head";

    /// <summary>
    /// The default longest time between two signatures while routine entries are written: an ECDSA P-256 signature
    /// costs ~20 µs, several times the rest of an append, and a round writes several routine entries.
    /// </summary>
    public static readonly TimeSpan DefaultSignSpacing = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest detail kept in an entry; longer ones are cut (a hostile peer's strings must not bloat the ledger).</summary>
    public const int MaxDetailLength = 2000;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _gate = new();
    private readonly Lock _syncGate = new();
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _flushHandle;
    private readonly FileStream _stream;
    private readonly FileStream _lock;
    private readonly AuditSigner? _signer;
    private readonly Timer _sync;
    private readonly string _headFile;
    private readonly TimeSpan _signSpacing;
    private long _seq;
    private long _lastSignedAt;
    private string _lastHash;
    private string? _lastSig;
    private bool _dirty;
    private bool _disposed;
    private long _appendTicks;
    private long _appended;

    private AuditLedger(string dir, FileStream lockFile, FileStream stream, AuditSigner? signer, long seq, string lastHash, TimeSpan syncInterval, TimeSpan signSpacing)
    {
        _signSpacing = signSpacing;
        Folder = dir;
        _lock = lockFile;
        _stream = stream;
        _signer = signer;
        _seq = seq;
        _lastHash = lastHash;
        _headFile = System.IO.Path.Combine(dir, HeadFileName);
        _flushHandle = File.OpenHandle(stream.Name, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        _sync = new Timer(_ => SyncQuietly(), null, syncInterval, syncInterval);
    }

    /// <summary>The folder holding the ledger.</summary>
    public string Folder { get; }

    /// <summary>The ledger file.</summary>
    public string Path => _stream.Name;

    /// <summary>True when entries are signed.</summary>
    public bool Signed => _signer is not null;

    /// <summary>The signing key's id, or null.</summary>
    public string? KeyId => _signer?.KeyId;

    /// <summary>The last sequence number written.</summary>
    public long LastSeq
    {
        get
        {
            lock (_gate) return _seq;
        }
    }

    /// <summary>Entries this process appended, and the time it spent appending them (hash, signature, write).</summary>
    public (long Entries, TimeSpan Time) Cost
    {
        get
        {
            lock (_gate) return (_appended, Stopwatch.GetElapsedTime(0, _appendTicks));
        }
    }

    /// <summary>
    /// Opens (or creates) the ledger in <paramref name="dir"/> to append, signing with <paramref name="signer"/> (null:
    /// unsigned, chained only), and records <see cref="AuditKinds.LedgerOpened"/> by <paramref name="actor"/>. A torn last
    /// line, left by a crash during a write, is cut off and recorded. Throws <see cref="IOException"/> when another
    /// process has it open. <paramref name="signSpacing"/>: the longest time between signatures while only routine
    /// entries are written (default <see cref="DefaultSignSpacing"/>; zero signs every entry).
    /// </summary>
    public static AuditLedger Open(string dir, AuditSigner? signer, string actor, TimeSpan? syncInterval = null, TimeSpan? signSpacing = null)
    {
        Directory.CreateDirectory(dir);
        string path = System.IO.Path.Combine(dir, FileName);
        FileStream stream, lockFile;
        try
        {
            // Readers open the ledger itself; writers also hold this lock file exclusively (an flock on Linux).
            lockFile = new FileStream(System.IO.Path.Combine(dir, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"audit ledger {path} is in use by another process ({e.Message})", e);
        }
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.Read, BufferSize = 0 };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            stream = new FileStream(path, options);
        }
        catch (IOException e)
        {
            lockFile.Dispose();
            throw new IOException($"audit ledger {path} is in use by another process ({e.Message})", e);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, OwnerOnly);
        try
        {
            var (seq, lastHash, torn) = ReadTail(stream, path);
            stream.Seek(0, SeekOrigin.End);
            if (signer is not null) RememberKey(dir, signer);
            var ledger = new AuditLedger(dir, lockFile, stream, signer, seq, lastHash, syncInterval ?? TimeSpan.FromSeconds(1), signSpacing ?? DefaultSignSpacing);
            if (torn is { } fragment)
                ledger.Append(new AuditEvent(AuditKinds.LedgerRepaired, actor,
                    $"cut off a torn last line of {fragment} bytes after entry {seq} (a crash during a write)"));
            string mode = signer is null ? "unsigned (chained only)" : $"signed by key {signer.KeyId} ({signer.Certificate.Subject})";
            ledger.Append(new AuditEvent(AuditKinds.LedgerOpened, actor, $"ledger opened at entry {seq + 1}, {mode}"));
            return ledger;
        }
        catch
        {
            stream.Dispose();
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends an event: numbers, chains, signs (unless it is routine and the last signature is recent) and writes it;
    /// returns the entry. The one way into the ledger.
    /// </summary>
    public AuditEntry Append(AuditEvent e)
    {
        if (e.Detail.Length > MaxDetailLength) e = e with { Detail = e.Detail[..MaxDetailLength] + "…" };
        string? key = _signer?.KeyId;
        // What depends on the event alone is encoded before the lock: the round's appends come from several threads at once.
        var encoded = AuditEntry.EventEncoding.Of(e, key);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long started = Stopwatch.GetTimestamp();
            long seq = _seq + 1;
            var time = DateTimeOffset.UtcNow;
            string timeText = AuditEntry.FormatTime(time);
            string hash = AuditEntry.ComputeHash(seq, timeText, encoded, _lastHash);
            // The ledger's first entry in this process (ledger.opened) is never routine, so _lastSignedAt is set before it is read.
            bool sign = _signer is not null && (!AuditKinds.IsRoutine(e.Kind) || Stopwatch.GetElapsedTime(_lastSignedAt, started) >= _signSpacing);
            string? sig = sign ? _signer!.Sign(hash) : null;
            _stream.Write(AuditEntry.Line(seq, timeText, encoded, _lastHash, hash, sig));
            var entry = new AuditEntry
            {
                Seq = seq,
                Time = time,
                Event = e,
                Key = key,
                PrevHash = _lastHash,
                Hash = hash,
                Sig = sig,
            };
            _seq = seq;
            _lastHash = hash;
            _lastSig = sig;
            if (sign) _lastSignedAt = started;
            _dirty = true;
            _appended++;
            _appendTicks += Stopwatch.GetTimestamp() - started;
            return entry;
        }
    }

    /// <summary>
    /// Flushes the ledger to disk and rewrites the head, signed (so it covers the unsigned routine entries before it),
    /// when anything was appended since the last sync.
    /// </summary>
    public void Sync() => SyncAndMeasure();

    /// <summary>
    /// Syncs, so that the signed head covers every entry so far, and returns the ledger file's length at that moment: a
    /// reader that stops there reads only entries the head covers, however many are appended meanwhile.
    /// </summary>
    public long SyncForReading() => SyncAndMeasure();

    // The head and the file's length are taken under the append lock; the flushes to disk happen outside it, so that an
    // append (a round's task or result) never waits for the disk, which on a busy machine can take milliseconds. One sync
    // at a time, so heads are written in order.
    private long SyncAndMeasure()
    {
        lock (_syncGate) return SyncHoldingSyncGate();
    }

    private long SyncHoldingSyncGate()
    {
        AuditHead head;
        long length;
        lock (_gate)
        {
            if (_disposed) return 0;
            length = _stream.Length;
            if (!_dirty) return length;
            _lastSig ??= _signer?.Sign(_lastHash);
            head = new AuditHead(_seq, _lastHash, _signer?.KeyId, _lastSig);
            _dirty = false;
        }
        try
        {
            // Everything up to the head was written before it was taken; a flush through another handle of the file
            // covers it, whatever the appends do meanwhile.
            RandomAccess.FlushToDisk(_flushHandle);
            string tmp = _headFile + ".tmp";
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            using (var f = new FileStream(tmp, options))
            {
                f.Write(Encoding.UTF8.GetBytes(head.ToJson() + "\n"));
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, _headFile, overwrite: true);
        }
        catch
        {
            lock (_gate) _dirty = true;
            throw;
        }
        return length;
    }

    // On the timer: a failing disk must not bring the process down from a background thread; the next append reports it.
    private void SyncQuietly()
    {
        try
        {
            Sync();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Every line of a ledger file (for reading while a process appends to it).</summary>
    public static IEnumerable<string> ReadLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (reader.ReadLine() is { } line) yield return line;
    }

    // The last complete entry's seq and hash, and the length of a torn fragment after it (cut off here).
    private static (long Seq, string Hash, long? Torn) ReadTail(FileStream stream, string path)
    {
        long length = stream.Length;
        if (length == 0) return (0, AuditEntry.Genesis, null);
        // Entries are short (details are capped), so the last complete one lies in the last few kilobytes.
        int window = (int)Math.Min(length, 4 * (MaxDetailLength * 6 + 4096));
        var tail = new byte[window];
        stream.Seek(length - window, SeekOrigin.Begin);
        stream.ReadExactly(tail);
        int end = tail.Length;
        long? torn = null;
        if (tail[^1] != (byte)'\n')
        {
            int lastNewline = Array.LastIndexOf(tail, (byte)'\n');
            end = lastNewline + 1;
            torn = tail.Length - end;
            stream.SetLength(length - torn.Value);
            stream.Flush(flushToDisk: true);
            if (end == 0 && window == length) return (0, AuditEntry.Genesis, torn);
        }
        int start = Array.LastIndexOf(tail, (byte)'\n', Math.Max(end - 2, 0));
        if (end < 2 || (start < 0 && window < length)) throw new InvalidDataException($"{path}: cannot find the last entry (a line longer than {window} bytes)");
        string line = Encoding.UTF8.GetString(tail, start + 1, end - start - 2);
        try
        {
            var last = AuditEntry.Parse(line);
            return (last.Seq, last.Hash, torn);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: the last entry is unreadable ({e.Message}); check it with cohort audit verify and move the file aside to start a new ledger");
        }
    }

    private static void RememberKey(string dir, AuditSigner signer)
    {
        string file = System.IO.Path.Combine(dir, KeysFileName);
        if (File.Exists(file) && AuditKeyRing.Load(file).Holds(signer.KeyId)) return;
        File.AppendAllText(file, signer.Certificate.ExportCertificatePem() + "\n");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _sync.Dispose();
        // Under the sync lock: a timer callback still running finishes its sync before the handles close, and one that
        // starts after finds the ledger disposed.
        lock (_syncGate)
        {
            SyncHoldingSyncGate();
            lock (_gate)
            {
                if (_disposed) return;
                _disposed = true;
                _stream.Dispose();
                _flushHandle.Dispose();
                _lock.Dispose();
            }
        }
    }
}
