namespace Mesh.Runtime.Embedded;

/// <summary>
/// The embedded runtime's database cannot be used: at start, a file that is not SQLite, not Mesh's, of a newer schema,
/// damaged, or held by another process (the message names the file and how to recover); later, a commit that failed.
/// </summary>
public sealed class EmbeddedDatabaseException(string path, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The database file.</summary>
    public string DatabasePath { get; } = path;
}
