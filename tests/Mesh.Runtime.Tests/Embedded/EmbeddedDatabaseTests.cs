using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Runtime.Tests.Embedded;

/// <summary>The state store over its SQLite file: what a restart reads back, what a crash keeps, which files it refuses.</summary>
public sealed class EmbeddedDatabaseTests : IDisposable
{
    private const string Store = "things";

    private readonly FakeTimeProvider _clock = TestClock.Create();
    private readonly TempDirectory _dir = new("mesh-db");

    public sealed record Thing(string Name, int Count);

    private string DatabasePath => _dir.File(EmbeddedDatabase.FileName);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Reopen_SavedState_ReadBackWithTheSameETags()
    {
        string etagA, etagB, etagC;
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            await state.SaveAsync(Store, "a", new Thing("a", 1));
            await state.SaveAsync(Store, "a", new Thing("a", 2));
            await state.SaveAsync("other", "b", new Thing("b", 1));
            await state.SaveAsync(Store, "gone", new Thing("x", 0));
            await state.TransactAsync(Store, [StateOperation.Upsert("c", new Thing("c", 3)), StateOperation.Delete("gone")]);
            await state.SaveAsync(Store, "d", new Thing("d", 4));
            await state.DeleteAsync(Store, "d");
            (etagA, etagB, etagC) = ((await state.GetAsync<Thing>(Store, "a"))!.ETag, (await state.GetAsync<Thing>("other", "b"))!.ETag, (await state.GetAsync<Thing>(Store, "c"))!.ETag);
        }

        await using var reopened = Open();
        var restored = new EmbeddedStateStore(_clock, reopened);

        Assert.Equal(new StateEntry<Thing>(new Thing("a", 2), etagA), await restored.GetAsync<Thing>(Store, "a"));
        Assert.Equal(new StateEntry<Thing>(new Thing("b", 1), etagB), await restored.GetAsync<Thing>("other", "b"));
        Assert.Equal(new StateEntry<Thing>(new Thing("c", 3), etagC), await restored.GetAsync<Thing>(Store, "c"));
        Assert.Null(await restored.GetAsync<Thing>(Store, "gone"));
        Assert.Null(await restored.GetAsync<Thing>(Store, "d"));
        Assert.Equal(2, restored.Count(Store));
        Assert.Equal(["a", "c"], restored.Scan(Store, "").Select(e => e.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Reopen_AfterDeletes_ETagsAreNeverHandedOutAgain()
    {
        var old = new List<string>();
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            for (var i = 0; i < 3; i++)
            {
                await state.SaveAsync(Store, "k", new Thing("k", i));
                old.Add((await state.GetAsync<Thing>(Store, "k"))!.ETag);
            }

            await state.DeleteAsync(Store, "k");
        }

        await using var reopened = Open();
        var restored = new EmbeddedStateStore(_clock, reopened);
        await restored.SaveAsync(Store, "k", new Thing("k", 9));

        Assert.DoesNotContain((await restored.GetAsync<Thing>(Store, "k"))!.ETag, old);
        await Assert.ThrowsAsync<StateConflictException>(() => restored.SaveAsync(Store, "k", new Thing("k", 10), new StateWriteOptions { ETag = old[^1] }));
    }

    [Fact]
    public async Task Reopen_OnlyExpiredKeysLeft_ETagsAreNeverHandedOutAgain()
    {
        var old = new List<string>();
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            for (var i = 0; i < 2; i++)
            {
                await state.SaveAsync(Store, "k", new Thing("k", i), new StateWriteOptions { TimeToLive = TimeSpan.FromSeconds(10) });
                old.Add((await state.GetAsync<Thing>(Store, "k"))!.ETag);
            }
        }

        _clock.Advance(TimeSpan.FromSeconds(10));

        // The first reopen drops the expired key from the file; the second finds no key at all.
        for (var reopen = 0; reopen < 2; reopen++)
        {
            await using var db = Open();
            var state = new EmbeddedStateStore(_clock, db);
            Assert.Equal(0, state.Count(Store));
            await state.SaveAsync(Store, $"n{reopen}", new Thing("n", reopen));
            var etag = (await state.GetAsync<Thing>(Store, $"n{reopen}"))!.ETag;
            Assert.DoesNotContain(etag, old);
            old.Add(etag);
            await state.DeleteAsync(Store, $"n{reopen}");
        }
    }

    [Fact]
    public async Task Reopen_KeysWithTtl_ExpireOnTheInjectedClock()
    {
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            await state.SaveAsync(Store, "short", new Thing("s", 1), new StateWriteOptions { TimeToLive = TimeSpan.FromSeconds(10) });
            await state.TransactAsync(Store, [StateOperation.Upsert("long", new Thing("l", 1), new StateWriteOptions { TimeToLive = TimeSpan.FromSeconds(30) })]);
            await state.SaveAsync(Store, "forever", new Thing("f", 1));
        }

        _clock.Advance(TimeSpan.FromSeconds(10));
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            Assert.Null(await state.GetAsync<Thing>(Store, "short"));
            Assert.NotNull(await state.GetAsync<Thing>(Store, "long"));
            _clock.Advance(TimeSpan.FromSeconds(20));
            Assert.Null(await state.GetAsync<Thing>(Store, "long"));
        }

        await using var last = Open();
        var restored = new EmbeddedStateStore(_clock, last);
        Assert.Equal(["forever"], restored.Scan(Store, "").Select(e => e.Key));
    }

    [Fact]
    public async Task Reopen_RefusedWrites_LeftNothingBehind()
    {
        string etag;
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            await state.SaveAsync(Store, "a", new Thing("a", 1));
            etag = (await state.GetAsync<Thing>(Store, "a"))!.ETag;
            await state.SaveAsync(Store, "a", new Thing("a", 2), new StateWriteOptions { ETag = etag });

            await Assert.ThrowsAsync<StateConflictException>(() => state.SaveAsync(Store, "a", new Thing("a", 3), new StateWriteOptions { ETag = etag }));
            await Assert.ThrowsAsync<StateConflictException>(() => state.SaveAsync(Store, "a", new Thing("a", 4), new StateWriteOptions { FirstWrite = true }));
            await Assert.ThrowsAsync<StateTransactionException>(() => state.TransactAsync(Store,
                [StateOperation.Upsert("b", new Thing("b", 1)), StateOperation.Upsert("a", new Thing("a", 5), new StateWriteOptions { ETag = etag })]));
        }

        await using var reopened = Open();
        var restored = new EmbeddedStateStore(_clock, reopened);

        Assert.Equal(new Thing("a", 2), (await restored.GetAsync<Thing>(Store, "a"))!.Value);
        Assert.Null(await restored.GetAsync<Thing>(Store, "b"));
    }

    [Fact]
    public async Task Crash_MidBatch_AcknowledgedWritesReadBackAndTheBatchIsNot()
    {
        var random = new Random(20261205);
        var written = new Dictionary<string, Thing>();
        var db = Open();
        var state = new EmbeddedStateStore(_clock, db);
        var acknowledged = new List<string>();
        for (var i = 0; i < 50; i++)
        {
            var key = $"k{i}";
            written[key] = new Thing(key, random.Next());
            await state.SaveAsync(Store, key, written[key]);
            acknowledged.Add(key);
        }

        // Let a few more batches commit, then hold the next one open inside its transaction and crash there.
        var batchesToCommit = random.Next(0, 4);
        var batches = 0;
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        db.BeforeCommit = async cancellationToken =>
        {
            if (Interlocked.Increment(ref batches) > batchesToCommit)
            {
                held.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
        };

        var inFlight = new List<(string Key, Task Task)>();
        for (var wave = 0; !held.Task.IsCompleted; wave++)
        {
            var tasks = Enumerable.Range(0, 10).Select(j =>
            {
                var key = $"w{wave}-{j}";
                written[key] = new Thing(key, random.Next());
                return (key, state.SaveAsync(Store, key, written[key]));
            }).ToList();
            inFlight.AddRange(tasks);
            await Task.WhenAny(Task.WhenAll(tasks.Select(t => t.Item2)), held.Task);
        }

        await db.SimulateCrashAsync();
        await Task.WhenAll(inFlight.Select(t => t.Task)).ContinueWith(_ => { }, TaskScheduler.Default);

        var committed = inFlight.Where(t => t.Task.IsCompletedSuccessfully).Select(t => t.Key).ToList();
        var lost = inFlight.Where(t => !t.Task.IsCompletedSuccessfully).ToList();
        Assert.NotEmpty(lost);
        Assert.All(lost, t => Assert.IsType<EmbeddedDatabaseException>(t.Task.Exception!.InnerException));
        await db.DisposeAsync();

        await using var reopened = Open();
        var restored = new EmbeddedStateStore(_clock, reopened);
        foreach (var key in acknowledged.Concat(committed))
        {
            Assert.Equal(written[key], (await restored.GetAsync<Thing>(Store, key))?.Value);
        }

        foreach (var (key, _) in lost)
        {
            Assert.Null(await restored.GetAsync<Thing>(Store, key));
        }
    }

    [Fact]
    public void Open_NoDataDirectory_MemoryOnlyWithNoFile()
    {
        using var db = EmbeddedDatabase.Open(new EmbeddedRuntimeOptions { DataDirectory = "" }, _clock, NullLogger.Instance);

        Assert.False(db.IsPersistent);
        Assert.Null(db.FilePath);
        Assert.True(db.WriteAsync(new EmbeddedDatabase.DeleteState(Store, "k", 1)).IsCompletedSuccessfully);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Open_NewFolder_CreatesTheDatabaseInWalMode()
    {
        var nested = Path.Combine(_dir.Path, "a", "b");
        using (var db = EmbeddedDatabase.Open(new EmbeddedRuntimeOptions { DataDirectory = nested }, _clock, NullLogger.Instance))
        {
            Assert.Equal(Path.Combine(nested, EmbeddedDatabase.FileName), db.FilePath);
        }

        using var connection = OpenRaw(Path.Combine(nested, EmbeddedDatabase.FileName));
        Assert.Equal("wal", Scalar(connection, "PRAGMA journal_mode"));
        Assert.Equal((long)EmbeddedDatabase.ApplicationId, Scalar(connection, "PRAGMA application_id"));
        Assert.Equal((long)EmbeddedDatabase.SchemaVersion, Scalar(connection, "PRAGMA user_version"));
    }

    [Theory]
    [InlineData("text")]
    [InlineData("random")]
    public void Open_FileIsNotSqlite_ThrowsNamingTheFileAndHowToRecover(string content)
    {
        var bytes = content == "text" ? "{\"state\": \"a snapshot, not a database\"}\n"u8.ToArray() : RandomBytes(8192, seed: 7);
        File.WriteAllBytes(DatabasePath, bytes);

        var e = Assert.Throws<EmbeddedDatabaseException>(Open);

        Assert.Equal(DatabasePath, e.DatabasePath);
        Assert.Contains($"'{DatabasePath}' is not a SQLite database", e.Message, StringComparison.Ordinal);
        Assert.Contains("move the file aside (or delete it)", e.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(DatabasePath));
    }

    [Fact]
    public void Open_ForeignSqliteFile_ThrowsAndLeavesItAsItIs()
    {
        using (var connection = OpenRaw(DatabasePath))
        {
            Execute(connection, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')");
        }

        var before = File.ReadAllBytes(DatabasePath);

        var e = Assert.Throws<EmbeddedDatabaseException>(Open);

        Assert.Contains($"'{DatabasePath}' is a SQLite database, but not the embedded runtime's", e.Message, StringComparison.Ordinal);
        Assert.Contains("tables users", e.Message, StringComparison.Ordinal);
        Assert.Contains("move the file aside", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(DatabasePath));
    }

    [Fact]
    public void Open_NewerSchemaVersion_ThrowsAskingForTheNewerBuild()
    {
        Open().Dispose();
        using (var connection = OpenRaw(DatabasePath))
        {
            Execute(connection, $"PRAGMA user_version = {EmbeddedDatabase.SchemaVersion + 1}");
        }

        var e = Assert.Throws<EmbeddedDatabaseException>(Open);

        Assert.Contains($"'{DatabasePath}' was written by a newer Mesh (schema version {EmbeddedDatabase.SchemaVersion + 1}", e.Message, StringComparison.Ordinal);
        Assert.Contains("Run the newer build on it", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_DamagedPages_ThrowsNamingTheFile()
    {
        await using (var db = Open())
        {
            var state = new EmbeddedStateStore(_clock, db);
            for (var i = 0; i < 200; i++)
            {
                await state.SaveAsync(Store, $"k{i:D3}", new Thing(new string('x', 2000), i));
            }
        }

        // Page 1 (the header) stays intact, so SQLite reads it as our database, then finds the damage below.
        using (var file = File.OpenWrite(DatabasePath))
        {
            file.Position = 3 * 4096;
            file.Write(RandomBytes(4 * 4096, seed: 11));
        }

        var e = Assert.Throws<EmbeddedDatabaseException>(Open);

        Assert.Contains($"'{DatabasePath}' is damaged", e.Message, StringComparison.Ordinal);
        Assert.Contains("move the file aside", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_FolderInUseByAnotherDatabase_ThrowsInUse()
    {
        using var first = Open();

        var e = Assert.Throws<EmbeddedDatabaseException>(Open);

        Assert.Contains($"'{DatabasePath}' is in use by another process", e.Message, StringComparison.Ordinal);
    }

    private EmbeddedDatabase Open() => EmbeddedDatabase.Open(new EmbeddedRuntimeOptions { DataDirectory = _dir.Path }, _clock, NullLogger.Instance);

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static SqliteConnection OpenRaw(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
