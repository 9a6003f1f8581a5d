namespace Mesh.Standalone;

/// <summary>Settings of the standalone host (section <c>Standalone</c>).</summary>
public sealed class StandaloneOptions
{
    /// <summary>Where the public API listens, unless <c>--urls</c> says otherwise. Default http://127.0.0.1:5080.</summary>
    public string Url { get; set; } = "http://127.0.0.1:5080";

    /// <summary>
    /// Folder of the embedded runtime's SQLite database (<c>mesh.db</c>: models, embeddings, checkpoints, actor state,
    /// undelivered events), relative to the working directory (with <c>dotnet run</c>, the project folder); a restart
    /// resumes from it. Empty: memory only. Default <c>data</c>.
    /// </summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Run the synthetic ad world's driver against the public API. Default true.</summary>
    public bool Driver { get; set; } = true;

    /// <summary>How often a summary line is printed; zero turns it off. Default 5 s.</summary>
    public TimeSpan SummaryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Serve <c>POST /bench/bare-rank</c>, the load benchmark's baseline (which turns it on). Default false: a host
    /// serves nothing it was not asked to.
    /// </summary>
    public bool BenchEndpoints { get; set; }
}
