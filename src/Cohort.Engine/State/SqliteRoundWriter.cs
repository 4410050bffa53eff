using Microsoft.Data.Sqlite;

namespace Cohort.Engine.State;

/// <summary>
/// The writes every round makes (its node results, its record, the run's count of rounds done) on one connection opened
/// once, each statement prepared once and kept. Through the pool each such write took a connection, parsed its SQL and
/// built its command again, which with a small model was a tenth of the server's time per round. One write at a time, as
/// SQLite takes one writer at a time anyway; a write that fails closes the connection, and the next one opens it again.
/// </summary>
/// <param name="open">Opens a connection with the store's settings.</param>
internal sealed class SqliteRoundWriter(Func<SqliteConnection> open) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private SqliteConnection? _connection;

    /// <summary>Runs <paramref name="write"/> with the connection to itself, now; its outcome as a task, failures included.</summary>
    public Task<T> WriteAsync<T>(Func<Statements, T> write)
    {
        try
        {
            return Task.FromResult(Write(write));
        }
        catch (OperationCanceledException e) when (e.CancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(e.CancellationToken);
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
    }

    private T Write<T>(Func<Statements, T> write)
    {
        lock (_gate)
        {
            try
            {
                _connection ??= open();
                return write(new Statements(this, _connection));
            }
            catch
            {
                // Whatever it left (a transaction begun, synchronous=FULL set) goes with the connection.
                Close();
                throw;
            }
        }
    }

    /// <summary>Closes the connection and its statements; a later write opens them again.</summary>
    public void Dispose()
    {
        lock (_gate) Close();
    }

    private void Close()
    {
        foreach (var command in _commands.Values) command.Dispose();
        _commands.Clear();
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>The prepared statements of one <see cref="WriteAsync{T}"/>.</summary>
    internal readonly struct Statements(SqliteRoundWriter writer, SqliteConnection connection)
    {
        /// <summary>
        /// Runs a <c>PRAGMA</c>, parsed anew each time: SQLite applies a pragma (and reads one's value) when it prepares
        /// the statement, not when it steps it, so a prepared one kept would set (or read) its value once only.
        /// </summary>
        public object? Pragma(string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            return command.ExecuteScalar();
        }

        /// <summary>The statement for <paramref name="sql"/> (not a <c>PRAGMA</c>: <see cref="Pragma"/>), prepared at its first use, its parameters set to <paramref name="args"/>.</summary>
        public SqliteCommand Command(string sql, params ReadOnlySpan<(string Name, object? Value)> args)
        {
            if (!writer._commands.TryGetValue(sql, out var command))
            {
                command = connection.CreateCommand();
                command.CommandText = sql;
                foreach (var (name, _) in args) command.Parameters.Add(new SqliteParameter(name, DBNull.Value));
                command.Prepare();
                writer._commands[sql] = command;
            }
            for (int i = 0; i < args.Length; i++) command.Parameters[i].Value = args[i].Value ?? DBNull.Value;
            return command;
        }
    }
}
