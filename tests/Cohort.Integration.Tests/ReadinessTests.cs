using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Hosting;
using Cohort.Server.State;

namespace Cohort.Integration.Tests;

/// <summary>/readyz answers 503 with the same one-line body whichever state store has become unreachable.</summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task Readyz_is_503_when_the_SQLite_database_cannot_be_opened()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cohort-ready-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var store = new SqliteStateStore(Path.Combine(dir, "cohort.db"));
        await store.InitializeAsync(CancellationToken.None);
        Assert.Equal((200, "ready"), await CohortServerHost.ReadinessAsync(store, CancellationToken.None));

        // The data folder goes away under the server: SQLite can no longer open its file.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(dir, recursive: true);
        var (status, body) = await CohortServerHost.ReadinessAsync(store, CancellationToken.None);
        Assert.Equal(503, status);
        Assert.StartsWith("not ready: state store unavailable (", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_is_503_when_the_PostgreSQL_server_is_down()
    {
        var pg = await PostgresCluster.StartAsync();
        var store = new PostgresStateStore(pg.ConnectionString);
        try
        {
            await store.InitializeAsync(CancellationToken.None);
            Assert.Equal((200, "ready"), await CohortServerHost.ReadinessAsync(store, CancellationToken.None));
        }
        finally
        {
            // The database server stops under the Cohort server.
            await pg.DisposeAsync();
        }
        try
        {
            var (status, body) = await CohortServerHost.ReadinessAsync(store, CancellationToken.None);
            Assert.Equal(503, status);
            Assert.StartsWith("not ready: state store unavailable (", body, StringComparison.Ordinal);
        }
        finally
        {
            await store.DisposeAsync();
        }
    }
}
