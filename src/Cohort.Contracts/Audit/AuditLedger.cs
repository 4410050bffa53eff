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

    /// <summary>Longest kind, actor, run, node or task id kept in an entry, in characters; longer ones are cut and marked.</summary>
    public const int MaxNameLength = 256;

    /// <summary>Longest digest kept in an entry, in characters (a SHA-256 in hex takes 64); longer ones are cut and marked.</summary>
    public const int MaxDigestLength = 128;

    /// <summary>
    /// The longest line <see cref="Append"/> writes, in bytes: every capped field at its cap plus the cut mark, at 6 bytes
    /// a character (the JSON writer escapes a control or non-ASCII character as <c>\uXXXX</c>), and 4 KiB for the member
    /// names and the fields the ledger adds itself (seq, time, key id, two hashes, a signature up to RSA-16384's).
    /// </summary>
    public const int MaxLineBytes = 6 * (5 * (MaxNameLength + 1) + (MaxDigestLength + 1) + (MaxDetailLength + 1)) + 4096;

    // What reopening reads first from the end of the file: two of the longest lines (a torn one and the last entry), so
    // one read finds the last entry of any ledger written with the caps. Longer lines (written before them) take more.
    private const int TailWindow = 1 << 16;

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
        e = Bounded(e);
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
    /// The event as the ledger keeps it: each string field cut at its cap (<see cref="MaxNameLength"/>,
    /// <see cref="MaxDigestLength"/>, <see cref="MaxDetailLength"/>) and marked with "…", so that no caller, however
    /// long the strings a peer sent it, writes a line longer than <see cref="MaxLineBytes"/>. An event within the caps is
    /// returned as it is, so its entry's encoding is the one it always was.
    /// </summary>
    public static AuditEvent Bounded(AuditEvent e)
    {
        if (e.Kind.Length <= MaxNameLength && e.Actor.Length <= MaxNameLength && e.Detail.Length <= MaxDetailLength
            && (e.Run?.Length ?? 0) <= MaxNameLength && (e.Node?.Length ?? 0) <= MaxNameLength
            && (e.Task?.Length ?? 0) <= MaxNameLength && (e.Digest?.Length ?? 0) <= MaxDigestLength)
            return e;
        return e with
        {
            Kind = Cut(e.Kind, MaxNameLength),
            Actor = Cut(e.Actor, MaxNameLength),
            Detail = Cut(e.Detail, MaxDetailLength),
            Run = e.Run is null ? null : Cut(e.Run, MaxNameLength),
            Node = e.Node is null ? null : Cut(e.Node, MaxNameLength),
            Task = e.Task is null ? null : Cut(e.Task, MaxNameLength),
            Digest = e.Digest is null ? null : Cut(e.Digest, MaxDigestLength),
        };
    }

    // Never between the two halves of a surrogate pair: a lone half would not survive the round trip through UTF-8.
    private static string Cut(string value, int max) =>
        value.Length <= max ? value : value[..(char.IsHighSurrogate(value[max - 1]) ? max - 1 : max)] + "…";

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

    // The last complete entry's seq and hash, and the length of a torn fragment after it (cut off here). The file is read
    // backwards a window at a time until the newline before the last entry is found, however long that entry's line is.
    private static (long Seq, string Hash, long? Torn) ReadTail(FileStream stream, string path)
    {
        long length = stream.Length;
        if (length == 0) return (0, AuditEntry.Genesis, null);
        var tail = new TailReader(stream, (int)Math.Min(length, TailWindow));
        long end = length;
        long? torn = null;
        if (tail.ByteAt(length - 1) != (byte)'\n')
        {
            end = tail.LastNewlineBefore(length) + 1;
            torn = length - end;
            stream.SetLength(end);
            stream.Flush(flushToDisk: true);
            if (end == 0) return (0, AuditEntry.Genesis, torn);
        }
        long start = tail.LastNewlineBefore(end - 1) + 1;
        long lineLength = end - 1 - start;
        if (lineLength > Array.MaxLength)
            throw new InvalidDataException($"{path}: the last entry is a line of {lineLength} bytes, too long to read; check the ledger with cohort audit verify and move the file aside to start a new one");
        string line = Encoding.UTF8.GetString(tail.Read(start, (int)lineLength));
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

    // Reads a file backwards a window at a time, keeping the window last read: the last entry of a ledger with capped
    // lines, and the newline before it, lie in the first window, so reopening reads the file once.
    private sealed class TailReader(FileStream stream, int window)
    {
        private readonly byte[] _buffer = new byte[window];
        private long _start;
        private int _count;

        public byte ByteAt(long position)
        {
            Load(position + 1);
            return _buffer[(int)(position - _start)];
        }

        // The position of the last newline before limit, or -1 when there is none.
        public long LastNewlineBefore(long limit)
        {
            while (limit > 0)
            {
                Load(limit);
                int found = _buffer.AsSpan(0, (int)(limit - _start)).LastIndexOf((byte)'\n');
                if (found >= 0) return _start + found;
                limit = _start;
            }
            return -1;
        }

        public ReadOnlySpan<byte> Read(long from, int count)
        {
            if (_count > 0 && from >= _start && from + count <= _start + _count) return _buffer.AsSpan((int)(from - _start), count);
            var bytes = new byte[count];
            stream.Seek(from, SeekOrigin.Begin);
            stream.ReadExactly(bytes);
            return bytes;
        }

        // Makes the window end at limit, unless it holds the byte before limit already.
        private void Load(long limit)
        {
            if (_count > 0 && limit > _start && limit <= _start + _count) return;
            _start = Math.Max(0, limit - _buffer.Length);
            _count = (int)(limit - _start);
            stream.Seek(_start, SeekOrigin.Begin);
            stream.ReadExactly(_buffer, 0, _count);
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
