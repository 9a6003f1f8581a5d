using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// The embedded runtime's persistence: one SQLite file, <see cref="FileName"/> in
/// <see cref="EmbeddedRuntimeOptions.DataDirectory"/>, holding the state stores and the outbox of events not yet
/// delivered. It is read once, at open; after that it is only written, by one writer that commits whatever is pending
/// in one transaction and then completes every caller's task (group commit), so a write that returned is in the WAL
/// and survives a crash of the process. WAL journal; the file stays locked (<c>locking_mode=EXCLUSIVE</c>) while the
/// host runs, so a second host on the same folder fails at start instead of interleaving its writes. Without a folder
/// nothing is opened and every write completes at once.
/// </summary>
internal sealed class EmbeddedDatabase : IAsyncDisposable, IDisposable
{
    public const string FileName = "mesh.db";

    // Our marker in the file's header: PRAGMA application_id is "MESH" in ASCII; PRAGMA user_version is the schema.
    public const int ApplicationId = 0x4D455348;
    public const int SchemaVersion = 1;

    // Times are UTC ticks (100 ns since 0001-01-01), values JSON bytes. state is a rowid table: values run from a few
    // hundred bytes to model checkpoints of megabytes, too large for a WITHOUT ROWID table's b-tree. state_versions
    // holds a store's version counter as of its last delete, so that with the versions of the keys still there the
    // highest ETag ever handed out is known after a restart; it is written with deletes only, which keeps a commit of
    // saves to the pages of the keys saved.
    private const string Schema = """
        CREATE TABLE state (
            store TEXT NOT NULL,
            key TEXT NOT NULL,
            value BLOB NOT NULL,
            version INTEGER NOT NULL,
            expires_at INTEGER,
            PRIMARY KEY (store, key)
        );
        CREATE TABLE state_versions (
            store TEXT NOT NULL PRIMARY KEY,
            version INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            app_id TEXT NOT NULL,
            topic TEXT NOT NULL,
            event_id TEXT NOT NULL,
            time INTEGER NOT NULL,
            data BLOB NOT NULL
        );
        """;

    private static readonly string[] Tables = ["outbox", "state", "state_versions"];

    // What the data folder held before the database: whole-state snapshots and the undelivered events of a clean stop.
    private static readonly string[] LegacyFiles = ["state.json", "undelivered-events.json"];

    private readonly SqliteConnection? _connection;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _batchSize;
    private readonly ILogger? _logger;
    private readonly CancellationTokenSource _crash = new();
    private readonly Dictionary<string, long> _batchVersions = new(StringComparer.Ordinal);
    private readonly Commands? _commands;
    private readonly Task _writer = Task.CompletedTask;
    private IReadOnlyList<StoredState>? _state;
    private IReadOnlyList<StoredEvent>? _events;
    private volatile Exception? _failure;
    private int _disposed;

    private EmbeddedDatabase()
    {
    }

    private EmbeddedDatabase(string path, SqliteConnection connection, Loaded loaded, int batchSize, ILogger logger)
    {
        FilePath = path;
        _connection = connection;
        _state = loaded.State;
        _events = loaded.Events;
        StoreVersions = loaded.Versions;
        _batchSize = batchSize;
        _logger = logger;
        _commands = new Commands(connection);
        _writer = Task.Run(RunWriterAsync);
    }

    /// <summary>The database file; null in memory-only mode.</summary>
    public string? FilePath { get; }

    public bool IsPersistent => _connection is not null;

    /// <summary>The highest version (ETag) each store has handed out, deleted keys included, so ETags are never reused.</summary>
    public IReadOnlyDictionary<string, long> StoreVersions { get; } = new Dictionary<string, long>();

    /// <summary>Test hook: runs inside each batch's transaction, after its statements and before the commit.</summary>
    internal Func<CancellationToken, Task>? BeforeCommit { get; set; }

    /// <summary>A database that keeps nothing: every write completes at once.</summary>
    public static EmbeddedDatabase MemoryOnly() => new();

    /// <summary>
    /// Opens (or creates) <see cref="FileName"/> in <see cref="EmbeddedRuntimeOptions.DataDirectory"/> and reads it
    /// whole; memory only when the folder is null or empty. Throws <see cref="EmbeddedDatabaseException"/>, naming the
    /// file and how to recover, for a file that is not SQLite, not ours, of a newer schema, damaged or in use.
    /// </summary>
    public static EmbeddedDatabase Open(EmbeddedRuntimeOptions options, TimeProvider clock, ILogger logger)
    {
        if (string.IsNullOrEmpty(options.DataDirectory))
        {
            return MemoryOnly();
        }

        var directory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // A pooled connection would outlive Close, and with it the lock and the WAL.
            Pooling = false,
            // Seconds Microsoft.Data.Sqlite retries a busy database: only another process holding the file makes it busy.
            DefaultTimeout = 2,
        }.ToString());
        try
        {
            connection.Open();
            var loaded = Prepare(connection, path, options.Synchronous, clock);
            logger.LogInformation("Opened {Path}: {Keys} keys, {Events} undelivered events", path, loaded.State.Count, loaded.Events.Count);
            foreach (var old in LegacyFiles.Select(f => Path.Combine(directory, f)).Where(File.Exists))
            {
                logger.LogWarning("{File} is from the snapshot format this build no longer reads; its contents are not in {Path}. Delete it", old, path);
            }

            return new EmbeddedDatabase(path, connection, loaded, options.WriteBatchSize, logger);
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw e.SqliteErrorCode switch
            {
                SQLitePCL.raw.SQLITE_NOTADB => Unusable(path, "is not a SQLite database", e),
                SQLitePCL.raw.SQLITE_CORRUPT => Unusable(path, $"is damaged ({e.Message})", e),
                SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED => new EmbeddedDatabaseException(path,
                    $"The embedded runtime's database '{path}' is in use by another process, most likely another host on the same " +
                    "data folder. Stop that process, or point EmbeddedRuntime:DataDirectory (in the standalone host: " +
                    "Standalone:DataDirectory) at another folder.", e),
                _ => Unusable(path, $"cannot be opened ({e.Message})", e),
            };
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The live state read at open, handed over once (the store keeps it in memory from then on).</summary>
    public IReadOnlyList<StoredState> TakeState() => Interlocked.Exchange(ref _state, null) ?? [];

    /// <summary>The outbox read at open, oldest first, handed over once.</summary>
    public IReadOnlyList<StoredEvent> TakeEvents() => Interlocked.Exchange(ref _events, null) ?? [];

    /// <summary>Completes when <paramref name="write"/> is committed.</summary>
    public Task WriteAsync(Write write) => Enqueue(new Pending(write, null, Waiter()));

    /// <summary>Completes when all of <paramref name="writes"/> are committed, in one transaction.</summary>
    public Task WriteAsync(IReadOnlyList<Write> writes) => writes.Count == 0 ? Task.CompletedTask : Enqueue(new Pending(null, writes, Waiter()));

    /// <summary>
    /// Queues <paramref name="write"/> without waiting for it: it is committed with the next batch, in order with
    /// every other write. For what may be lost in a crash, like the removal of an event already delivered (which is then
    /// delivered once more: at least once).
    /// </summary>
    public void Post(Write write)
    {
        if (_connection is not null && _failure is null)
        {
            _queue.Writer.TryWrite(new Pending(write, null, null));
        }
    }

    /// <summary>
    /// Test hook: stops as a killed process would. The batch being written is not committed, nothing queued is
    /// written, and the connection closes without the checkpoint a clean close makes, leaving the WAL as it was.
    /// </summary>
    internal async Task SimulateCrashAsync()
    {
        if (_connection is null)
        {
            return;
        }

        await _crash.CancelAsync();
        _queue.Writer.TryComplete();
        await _writer;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1 || _connection is null)
        {
            return;
        }

        // Commits what is still queued (the last removals of delivered events), then a clean close checkpoints the WAL
        // into the file and deletes it.
        _queue.Writer.TryComplete();
        await _writer;
        _commands?.Dispose();
        await _connection.DisposeAsync();
        _crash.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static TaskCompletionSource Waiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Task Enqueue(Pending pending)
    {
        if (_connection is null)
        {
            return Task.CompletedTask;
        }

        if (_failure is { } failure)
        {
            return Task.FromException(failure);
        }

        return _queue.Writer.TryWrite(pending)
            ? pending.Done!.Task
            : Task.FromException(new EmbeddedDatabaseException(FilePath!, $"The embedded runtime's database '{FilePath}' is closed."));
    }

    private async Task RunWriterAsync()
    {
        var batch = new List<Pending>();
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_crash.Token))
            {
                while (batch.Count < _batchSize && reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                await CommitAsync(batch);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_crash.IsCancellationRequested)
        {
            var crashed = new EmbeddedDatabaseException(FilePath!, "The embedded runtime's database was abandoned (a simulated crash).");
            _failure = crashed;
            while (reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            Fault(batch, crashed);
            SQLitePCL.raw.sqlite3_db_config(_connection!.Handle, SQLitePCL.raw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, out _);
            _commands!.Dispose();
            _connection.Close();
        }
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        if (_failure is { } failure)
        {
            Fault(batch, failure);
            return;
        }

        try
        {
            using (var transaction = _connection!.BeginTransaction(deferred: false))
            {
                _commands!.Enlist(transaction);
                _batchVersions.Clear();
                foreach (var pending in batch)
                {
                    if (pending.One is { } write)
                    {
                        Apply(write);
                    }
                    else
                    {
                        foreach (var w in pending.Many!)
                        {
                            Apply(w);
                        }
                    }
                }

                foreach (var (store, version) in _batchVersions)
                {
                    _commands.SaveVersion(store, version);
                }

                if (BeforeCommit is { } hook)
                {
                    await hook(_crash.Token);
                }

                _crash.Token.ThrowIfCancellationRequested();
                transaction.Commit();
            }
        }
        catch (SqliteException e)
        {
            // Memory already holds these writes, so the file can no longer follow it: fail every write from now on rather
            // than commit later writes on top of a hole. A restart reads back what was committed.
            var failed = new EmbeddedDatabaseException(FilePath!,
                $"Writing to the embedded runtime's database '{FilePath}' failed ({e.Message}); no later write is committed. " +
                "Restart the host: it resumes from what was committed.", e);
            _failure = failed;
            _logger?.LogCritical(e, "Writing to {Path} failed; the embedded runtime commits nothing more until it restarts", FilePath);
            Fault(batch, failed);
            return;
        }

        foreach (var pending in batch)
        {
            pending.Done?.TrySetResult();
        }
    }

    private void Apply(Write write)
    {
        switch (write)
        {
            case SaveState s:
                _commands!.SaveState(s.Entry);
                break;
            case DeleteState d:
                _commands!.DeleteState(d.Store, d.Key);
                _batchVersions[d.Store] = Math.Max(_batchVersions.GetValueOrDefault(d.Store), d.Version);
                break;
            case AddEvent a:
                _commands!.AddEvent(a.Event);
                break;
            case RemoveEvent r:
                _commands!.RemoveEvent(r.Id);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(write), write, "Unknown write.");
        }
    }

    private static void Fault(List<Pending> batch, Exception e)
    {
        foreach (var pending in batch)
        {
            pending.Done?.TrySetException(e);
        }

        batch.Clear();
    }

    private static Loaded Prepare(SqliteConnection connection, string path, DatabaseSynchronous synchronous, TimeProvider clock)
    {
        // Before anything else reads the file: in exclusive mode the lock, once taken, is held until the connection
        // closes, and WAL mode then needs no shared-memory file (mesh.db-shm).
        Execute(connection, "PRAGMA locking_mode = EXCLUSIVE");

        // Identify the file before changing anything in it.
        var applicationId = Convert.ToInt64(Scalar(connection, "PRAGMA application_id"), CultureInfo.InvariantCulture);
        var userVersion = Convert.ToInt64(Scalar(connection, "PRAGMA user_version"), CultureInfo.InvariantCulture);
        var tables = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var fresh = applicationId == 0 && userVersion == 0 && tables.Count == 0;
        if (!fresh)
        {
            if (applicationId != ApplicationId)
            {
                var found = tables.Count == 0 ? "no tables" : "tables " + string.Join(", ", tables);
                throw Unusable(path, $"is a SQLite database, but not the embedded runtime's (application_id 0x{applicationId:X8}, {found})");
            }

            if (userVersion > SchemaVersion)
            {
                throw Unusable(path, $"was written by a newer Mesh (schema version {userVersion}; this build reads version {SchemaVersion})",
                    hint: "Run the newer build on it. ");
            }

            var missing = Tables.Except(tables, StringComparer.Ordinal).ToList();
            if (userVersion < SchemaVersion || missing.Count > 0)
            {
                throw Unusable(path, $"is damaged (schema version {userVersion}, missing tables: {(missing.Count == 0 ? "none" : string.Join(", ", missing))})");
            }
        }

        if (!string.Equals(Scalar(connection, "PRAGMA journal_mode = WAL") as string, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw Unusable(path, "cannot be switched to WAL mode");
        }

        Execute(connection, $"PRAGMA synchronous = {(synchronous == DatabaseSynchronous.Full ? "FULL" : "NORMAL")}");
        if (fresh)
        {
            using var transaction = connection.BeginTransaction();
            Execute(connection, Schema, transaction);
            Execute(connection, $"PRAGMA application_id = {ApplicationId}", transaction);
            Execute(connection, $"PRAGMA user_version = {SchemaVersion}", transaction);
            transaction.Commit();
        }

        // Reads every page of the file once (a few ms per MB): damage shows here, at start, not at the first unlucky read.
        var check = Scalar(connection, "PRAGMA quick_check") as string;
        if (!string.Equals(check, "ok", StringComparison.Ordinal))
        {
            throw Unusable(path, $"is damaged (PRAGMA quick_check: {check})");
        }

        return Load(connection, clock);
    }

    private static Loaded Load(SqliteConnection connection, TimeProvider clock)
    {
        var now = clock.GetUtcNow().UtcTicks;
        using var transaction = connection.BeginTransaction(deferred: false);
        var state = new List<StoredState>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT store, key, value, version, expires_at FROM state WHERE expires_at IS NULL OR expires_at > $now";
            command.Parameters.AddWithValue("$now", now);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                DateTimeOffset? expires = reader.IsDBNull(4) ? null : new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero);
                state.Add(new StoredState(reader.GetString(0), reader.GetString(1), (byte[])reader.GetValue(2), reader.GetInt64(3), expires));
            }
        }

        // A store's highest version: its counter at the last delete, or a key's version, expired keys included (they
        // are deleted below, so their versions go to state_versions first).
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT store, version FROM state_versions UNION ALL SELECT store, max(version) FROM state GROUP BY store";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var store = reader.GetString(0);
                versions[store] = Math.Max(versions.GetValueOrDefault(store), reader.GetInt64(1));
            }
        }

        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO state_versions (store, version) SELECT store, max(version) FROM state WHERE true GROUP BY store " +
                "ON CONFLICT (store) DO UPDATE SET version = max(version, excluded.version)";
            command.ExecuteNonQuery();
        }

        var events = new List<StoredEvent>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT id, app_id, topic, event_id, time, data FROM outbox ORDER BY id";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                events.Add(new StoredEvent(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero), (byte[])reader.GetValue(5)));
            }
        }

        // Expired keys are dead on this clock: drop them from the file too. Also takes the write lock, held from now on.
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM state WHERE expires_at IS NOT NULL AND expires_at <= $now";
            command.Parameters.AddWithValue("$now", now);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        return new Loaded(state, events, versions);
    }

    private static EmbeddedDatabaseException Unusable(string path, string what, Exception? inner = null, string? hint = null) => new(path,
        $"The embedded runtime's database '{path}' {what}. It was left as it is and the host did not start. {hint}To start cold, " +
        $"move the file aside (or delete it) together with any {FileName}-wal and {FileName}-shm beside it; or point " +
        "EmbeddedRuntime:DataDirectory (in the standalone host: Standalone:DataDirectory) at another folder.", inner);

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>What the writer does, as SQLite keeps it (one prepared statement each, reused for every batch).</summary>
    private sealed class Commands : IDisposable
    {
        private readonly SqliteCommand _saveState;
        private readonly SqliteCommand _deleteState;
        private readonly SqliteCommand _saveVersion;
        private readonly SqliteCommand _addEvent;
        private readonly SqliteCommand _removeEvent;

        public Commands(SqliteConnection connection)
        {
            _saveState = Create(connection,
                "INSERT INTO state (store, key, value, version, expires_at) VALUES ($store, $key, $value, $version, $expires) " +
                "ON CONFLICT (store, key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at",
                "$store", "$key", "$value", "$version", "$expires");
            _deleteState = Create(connection, "DELETE FROM state WHERE store = $store AND key = $key", "$store", "$key");
            _saveVersion = Create(connection,
                "INSERT INTO state_versions (store, version) VALUES ($store, $version) " +
                "ON CONFLICT (store) DO UPDATE SET version = max(version, excluded.version)",
                "$store", "$version");
            _addEvent = Create(connection,
                "INSERT INTO outbox (id, app_id, topic, event_id, time, data) VALUES ($id, $app, $topic, $event, $time, $data)",
                "$id", "$app", "$topic", "$event", "$time", "$data");
            _removeEvent = Create(connection, "DELETE FROM outbox WHERE id = $id", "$id");
        }

        public void Enlist(SqliteTransaction transaction)
        {
            foreach (var command in All())
            {
                command.Transaction = transaction;
            }
        }

        public void SaveState(StoredState entry) => Run(_saveState, entry.Store, entry.Key, entry.Value, entry.Version,
            entry.ExpiresAt is { } expires ? expires.UtcTicks : DBNull.Value);

        public void DeleteState(string store, string key) => Run(_deleteState, store, key);

        public void SaveVersion(string store, long version) => Run(_saveVersion, store, version);

        public void AddEvent(StoredEvent e) => Run(_addEvent, e.Id, e.AppId, e.Topic, e.EventId, e.Time.UtcTicks, e.Data);

        public void RemoveEvent(long id) => Run(_removeEvent, id);

        public void Dispose()
        {
            foreach (var command in All())
            {
                command.Dispose();
            }
        }

        private SqliteCommand[] All() => [_saveState, _deleteState, _saveVersion, _addEvent, _removeEvent];

        private static SqliteCommand Create(SqliteConnection connection, string sql, params string[] parameters)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            return command;
        }

        private static void Run(SqliteCommand command, params object[] values)
        {
            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i];
            }

            command.ExecuteNonQuery();
        }
    }

    private readonly record struct Pending(Write? One, IReadOnlyList<Write>? Many, TaskCompletionSource? Done);

    private sealed record Loaded(IReadOnlyList<StoredState> State, IReadOnlyList<StoredEvent> Events, IReadOnlyDictionary<string, long> Versions);

    /// <summary>A change to the file.</summary>
    public abstract record Write;

    public sealed record SaveState(StoredState Entry) : Write;

    // Version: the store's version counter when the key was deleted.
    public sealed record DeleteState(string Store, string Key, long Version) : Write;

    public sealed record AddEvent(StoredEvent Event) : Write;

    public sealed record RemoveEvent(long Id) : Write;
}

/// <summary>A key of a state store as the file keeps it: JSON, its version (the ETag) and its expiry, if any.</summary>
internal sealed record StoredState(string Store, string Key, byte[] Value, long Version, DateTimeOffset? ExpiresAt);

/// <summary>An event not yet delivered to one subscribing app (one row per app), in publish order by <see cref="Id"/>.</summary>
internal sealed record StoredEvent(long Id, string AppId, string Topic, string EventId, DateTimeOffset Time, byte[] Data);
