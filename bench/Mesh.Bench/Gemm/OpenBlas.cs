using System.Runtime.InteropServices;

namespace Mesh.Bench.Gemm;

/// <summary>
/// OpenBLAS's <c>cblas_sgemm</c> through P/Invoke, loaded at run time so that the benchmark still runs (without the
/// ratios) where the library is absent. Debian and Ubuntu ship it as <c>libopenblas0</c>.
/// </summary>
public sealed unsafe class OpenBlas
{
    public const string LibraryName = "libopenblas.so.0";
    public const string InstallHint = "apt-get update && apt-get install -y libopenblas0";

    private const int RowMajor = 101;
    private const int NoTrans = 111;

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private readonly delegate* unmanaged<int, void> _setThreads;

    private OpenBlas(nint library)
    {
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(library, "cblas_sgemm");
        _setThreads = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(library, "openblas_set_num_threads");
        CoreName = NativeLibrary.TryGetExport(library, "openblas_get_corename", out var coreName)
            ? Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)coreName)()) ?? "?"
            : "?";
        Config = NativeLibrary.TryGetExport(library, "openblas_get_config", out var config)
            ? Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)config)()) ?? "?"
            : "?";
    }

    /// <summary>The kernel family OpenBLAS picked for this CPU (its DYNAMIC_ARCH choice), e.g. "Haswell".</summary>
    public string CoreName { get; }

    public string Config { get; }

    /// <summary>
    /// OpenBLAS's idle threads spin for about 2^28 cycles (~0.1 s) after each call before they sleep; timed in
    /// alternation on 2 cores, that spinning takes a core from the engine's call that follows. 4 (2^4 cycles, the
    /// least it accepts) makes them sleep at once, as the engine's pool threads do; set before the library loads,
    /// unless the environment sets it already.
    /// </summary>
    public const string ThreadTimeoutVariable = "OPENBLAS_THREAD_TIMEOUT";

    public static string? ThreadTimeout => Marshal.PtrToStringUTF8(GetEnv(ThreadTimeoutVariable));

    /// <summary>
    /// Variables that override OpenBLAS's choice of kernel: <c>OPENBLAS_CORETYPE</c> names one, <c>OPENBLAS_L2_SIZE</c>
    /// sets the cache size its blocking assumes. The machines set both, which puts OpenBLAS on a slower kernel than the
    /// one it picks for the CPU; <c>bench/run.sh gemm</c> unsets them for the benchmark's process only.
    /// </summary>
    public static IReadOnlyList<string> KernelVariables { get; } = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

    /// <summary>The <see cref="KernelVariables"/> set in this process's environment, as <c>NAME=value</c>.</summary>
    public static IReadOnlyList<string> KernelOverrides() =>
        [.. KernelVariables.Select(name => (name, value: Marshal.PtrToStringUTF8(GetEnv(name)))).Where(v => v.value is not null).Select(v => $"{v.name}={v.value}")];

    /// <summary>Null when <see cref="LibraryName"/> cannot be loaded or lacks the functions used.</summary>
    public static OpenBlas? TryLoad()
    {
        if (ThreadTimeout is null)
        {
            SetEnv(ThreadTimeoutVariable, "4");
        }

        if (!NativeLibrary.TryLoad(LibraryName, out var library))
        {
            return null;
        }

        return NativeLibrary.TryGetExport(library, "cblas_sgemm", out _) && NativeLibrary.TryGetExport(library, "openblas_set_num_threads", out _)
            ? new OpenBlas(library)
            : null;
    }

    public void SetThreads(int threads) => _setThreads(threads);

    // The C library's environment, which OpenBLAS reads (Environment.SetEnvironmentVariable changes only .NET's copy).
    private static nint GetEnv(string name)
    {
        var getenv = (delegate* unmanaged<byte*, nint>)NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getenv");
        var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes)
        {
            return getenv(p);
        }
    }

    private static void SetEnv(string name, string value)
    {
        var setenv = (delegate* unmanaged<byte*, byte*, int, int>)NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "setenv");
        var nameBytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        var valueBytes = System.Text.Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* n = nameBytes, v = valueBytes)
        {
            setenv(n, v, 0);
        }
    }

    /// <summary>C = A · B, row-major, no transposes: the same contract as the engine's call in the benchmark.</summary>
    public void Multiply(int m, int n, int k, float[] a, float[] b, float[] c)
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            _sgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1f, pa, k, pb, n, 0f, pc, n);
        }
    }
}
