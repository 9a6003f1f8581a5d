using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Mesh.Learning.Kernels;

/// <summary>Whether a GEMM operand is used as stored or transposed.</summary>
public enum Transpose
{
    No,
    Yes,
}

/// <summary>Which micro-kernel <see cref="Gemm"/> runs; tests and benchmarks pin one, everything else uses <see cref="Auto"/>.</summary>
public enum GemmKernel
{
    /// <summary><see cref="Vector512"/> when hardware-accelerated, else <see cref="Vector256"/>, else the reference loop.</summary>
    Auto,
    Vector256,
    Vector512,
}

/// <summary>
/// Single-precision GEMM, <c>C = alpha * op(A) * op(B) + beta * C</c>, row-major with leading dimensions (the stride
/// between rows, in floats), in the Goto/BLIS scheme: op(B) is packed in (KC x NC) blocks of NR-wide column panels,
/// op(A) in (MC x KC) blocks of MR-high row panels, and a register-tiled micro-kernel multiplies one A panel by one
/// B panel. Work is split over threads by rows (or columns when there are few rows); each thread packs its own copies.
/// <see cref="GemmReference"/> is the naive kernel it is tested against.
/// </summary>
public static unsafe partial class Gemm
{
    // Cache blocking, in floats. A (KC x NR) B panel stays in L1 while the A panels of an (MC x KC) block stream
    // from L2; a (KC x NC) B block sits in L3.
    private const int KC = 256;
    private const int MC = 120;
    private const int NC = 4096;

    // Below this many multiply-adds a second thread costs more to wake than it saves.
    private const long ParallelThreshold = 1L << 21;

    // Up to this many rows of C per thread, B (when not transposed) is read in place rather than packed: each B panel
    // would serve too few micro-tiles to repay its copy (inference on a handful of rows).
    private const int DirectBRows = 48;

    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>Threads used when a call passes <c>threads: 0</c>. Default: <see cref="Environment.ProcessorCount"/>.</summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "at least 1 thread");
    }

    /// <summary>The kernel <see cref="GemmKernel.Auto"/> resolves to on this machine.</summary>
    public static GemmKernel Best { get; } =
        Vector512.IsHardwareAccelerated ? GemmKernel.Vector512 : Vector256.IsHardwareAccelerated ? GemmKernel.Vector256 : GemmKernel.Auto;

    /// <summary>
    /// <c>C = alpha * op(A) * op(B) + beta * C</c> with op(A): (m x k), op(B): (k x n), C: (m x n). A is stored (m x k)
    /// when <paramref name="transA"/> is <see cref="Transpose.No"/> and (k x m) otherwise, likewise B; <paramref name="lda"/>,
    /// <paramref name="ldb"/>, <paramref name="ldc"/> are the row strides of the stored matrices. When <paramref name="beta"/>
    /// is 0, C is not read (NaN in C does not propagate).
    /// </summary>
    /// <remarks>
    /// <c>threads</c>: 0 (default) means <see cref="MaxThreads"/>; products under 2^21 (about 2.1 million) multiply-adds (m·n·k) run on one thread.
    /// <c>kernel</c>: <see cref="GemmKernel.Auto"/> (default) picks <see cref="Best"/>.
    /// </remarks>
    public static void Multiply(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        int threads = 0, GemmKernel kernel = GemmKernel.Auto)
    {
        CheckOperand(nameof(a), a.Length, transA == Transpose.No ? m : k, transA == Transpose.No ? k : m, lda);
        CheckOperand(nameof(b), b.Length, transB == Transpose.No ? k : n, transB == Transpose.No ? n : k, ldb);
        CheckOperand(nameof(c), c.Length, m, n, ldc);
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }

        if (kernel == GemmKernel.Auto)
        {
            kernel = Best;
        }

        if (kernel == GemmKernel.Auto)
        {
            GemmReference.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }

        var geometry = kernel == GemmKernel.Vector512 ? Geometry512 : Geometry256;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var job = new Job(transA, transB, k, alpha, beta, pa, lda, pb, ldb, pc, ldc, geometry);
            threads = threads <= 0 ? _maxThreads : threads;
            var parts = Parts(m, n, k, threads, geometry);
            if (parts <= 1)
            {
                Run(job, 0, m, 0, n);
                return;
            }

            RunParallel(job, m, n, parts);
        }
    }

    // Split rows in whole MR panels when there are enough of them, else columns in whole NR panels. A method of its
    // own so that the closure is allocated only when the product is large enough to go parallel.
    private static void RunParallel(Job job, int m, int n, int parts)
    {
        var byRows = (m + job.Geometry.MR - 1) / job.Geometry.MR >= 2 * parts;
        var unit = byRows ? job.Geometry.MR : job.Geometry.NR;
        var total = byRows ? m : n;
        var units = (total + unit - 1) / unit;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            var from = Math.Min(total, (int)((long)units * part / parts) * unit);
            var to = Math.Min(total, (int)((long)units * (part + 1) / parts) * unit);
            if (from < to)
            {
                if (byRows)
                {
                    Run(job, from, to, 0, n);
                }
                else
                {
                    Run(job, 0, m, from, to);
                }
            }
        });
    }

    private static int Parts(int m, int n, int k, int threads, in Geometry geometry)
    {
        if (threads <= 1 || (long)m * n * k < ParallelThreshold)
        {
            return 1;
        }

        var panels = Math.Max((m + geometry.MR - 1) / geometry.MR, (n + geometry.NR - 1) / geometry.NR);
        return Math.Min(threads, panels);
    }

    private static void CheckOperand(string name, int length, int rows, int cols, int ld)
    {
        if (rows < 0 || cols < 0)
        {
            throw new ArgumentOutOfRangeException(name, $"negative dimension ({rows} x {cols})");
        }

        if (rows > 0 && cols > 0 && (ld < cols || (long)(rows - 1) * ld + cols > length))
        {
            throw new ArgumentException($"{name}: a ({rows} x {cols}) matrix with leading dimension {ld} does not fit in {length} floats", name);
        }
    }

    private static void ScaleC(int m, int n, float beta, Span<float> c, int ldc)
    {
        for (var i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (beta == 0)
            {
                row.Clear();
            }
            else if (beta != 1)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
        }
    }

    private readonly struct Geometry(int mr, int nr, delegate*<int, float*, float*, nint, float*, nint, float, float, void> micro)
    {
        public readonly int MR = mr;
        public readonly int NR = nr;
        public readonly delegate*<int, float*, float*, nint, float*, nint, float, float, void> Micro = micro;
    }

    private static readonly Geometry Geometry256 = new(6, 16, &Kernel256x6x16);
    private static readonly Geometry Geometry512 = new(6, 32, &Kernel512x6x32);

    private readonly struct Job(Transpose transA, Transpose transB, int k, float alpha, float beta,
        float* a, int lda, float* b, int ldb, float* c, int ldc, Geometry geometry)
    {
        public readonly Transpose TransA = transA;
        public readonly Transpose TransB = transB;
        public readonly int K = k;
        public readonly float Alpha = alpha;
        public readonly float Beta = beta;
        public readonly float* A = a;
        public readonly int Lda = lda;
        public readonly float* B = b;
        public readonly int Ldb = ldb;
        public readonly float* C = c;
        public readonly int Ldc = ldc;
        public readonly Geometry Geometry = geometry;
    }

    // Packing buffers per thread, pinned so that their addresses stay valid; aligned to 64 bytes by hand.
    [ThreadStatic]
    private static float[]? _packA;

    [ThreadStatic]
    private static float[]? _packB;

    private static float* Aligned(ref float[]? buffer, int count)
    {
        if (buffer is null || buffer.Length < count + 16)
        {
            buffer = GC.AllocateUninitializedArray<float>(count + 16, pinned: true);
        }

        var p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nint)63);
    }

    // C[m0..m1, n0..n1) on this thread.
    private static void Run(in Job job, int m0, int m1, int n0, int n1)
    {
        var g = job.Geometry;
        int mr = g.MR, nr = g.NR;
        var directB = job.TransB == Transpose.No && m1 - m0 <= DirectBRows;
        // Sized for this product, not the largest blocks: every thread that ever multiplies keeps its buffers.
        var kcMax = Math.Min(KC, job.K);
        var packA = Aligned(ref _packA, RoundUp(Math.Min(MC, m1 - m0), mr) * kcMax);
        var packB = Aligned(ref _packB, (directB ? nr : RoundUp(Math.Min(NC, n1 - n0), nr)) * kcMax);
        var tile = stackalloc float[mr * nr + 16];
        var edge = (float*)(((nint)tile + 63) & ~(nint)63);

        for (var jc = n0; jc < n1; jc += NC)
        {
            var nc = Math.Min(NC, n1 - jc);
            for (var pc = 0; pc < job.K; pc += KC)
            {
                var kc = Math.Min(KC, job.K - pc);
                var beta = pc == 0 ? job.Beta : 1f;
                if (!directB)
                {
                    PackB(job, pc, kc, jc, nc, nr, packB);
                }

                for (var ic = m0; ic < m1; ic += MC)
                {
                    var mc = Math.Min(MC, m1 - ic);
                    PackA(job, ic, mc, pc, kc, mr, packA);
                    for (var jr = 0; jr < nc; jr += nr)
                    {
                        var cols = Math.Min(nr, nc - jr);
                        var pb = packB + (nint)jr * kc;
                        nint ldb = nr;
                        if (directB && cols == nr)
                        {
                            pb = job.B + (nint)pc * job.Ldb + jc + jr;
                            ldb = job.Ldb;
                        }
                        else if (directB)
                        {
                            // The last, narrower panel is packed all the same: its zero padding keeps the kernel in bounds.
                            pb = packB;
                            PackB(job, pc, kc, jc + jr, cols, nr, packB);
                        }

                        for (var ir = 0; ir < mc; ir += mr)
                        {
                            var rows = Math.Min(mr, mc - ir);
                            var pa = packA + (nint)ir * kc;
                            var pc0 = job.C + (nint)(ic + ir) * job.Ldc + jc + jr;
                            if (rows == mr && cols == nr)
                            {
                                g.Micro(kc, pa, pb, ldb, pc0, job.Ldc, job.Alpha, beta);
                            }
                            else
                            {
                                // Edge tile: the full tile into a scratch buffer, then the valid part into C.
                                g.Micro(kc, pa, pb, ldb, edge, nr, job.Alpha, 0f);
                                MergeEdge(edge, nr, pc0, job.Ldc, rows, cols, beta);
                            }
                        }
                    }
                }
            }
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static void MergeEdge(float* tile, int nr, float* c, int ldc, int rows, int cols, float beta)
    {
        for (var i = 0; i < rows; i++)
        {
            var t = tile + i * nr;
            var ci = c + (nint)i * ldc;
            for (var j = 0; j < cols; j++)
            {
                ci[j] = beta == 0 ? t[j] : t[j] + beta * ci[j];
            }
        }
    }

    // op(A)[ic..ic+mc, pc..pc+kc) into MR-high panels: panel element (p, r) at p * MR + r; short panels zero-padded.
    private static void PackA(in Job job, int ic, int mc, int pc, int kc, int mr, float* dst)
    {
        for (var ip = 0; ip < mc; ip += mr)
        {
            var rows = Math.Min(mr, mc - ip);
            if (job.TransA == Transpose.No)
            {
                // A stored (m x k): each panel row is contiguous in A.
                for (var r = 0; r < rows; r++)
                {
                    var src = job.A + (nint)(ic + ip + r) * job.Lda + pc;
                    for (var p = 0; p < kc; p++)
                    {
                        dst[p * mr + r] = src[p];
                    }
                }

                for (var r = rows; r < mr; r++)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        dst[p * mr + r] = 0;
                    }
                }
            }
            else
            {
                // A stored (k x m): each panel column is contiguous in A.
                for (var p = 0; p < kc; p++)
                {
                    var src = job.A + (nint)(pc + p) * job.Lda + ic + ip;
                    var d = dst + p * mr;
                    for (var r = 0; r < rows; r++)
                    {
                        d[r] = src[r];
                    }

                    for (var r = rows; r < mr; r++)
                    {
                        d[r] = 0;
                    }
                }
            }

            dst += mr * kc;
        }
    }

    // op(B)[pc..pc+kc, jc..jc+nc) into NR-wide panels: panel element (p, j) at p * NR + j; short panels zero-padded.
    private static void PackB(in Job job, int pc, int kc, int jc, int nc, int nr, float* dst)
    {
        for (var jp = 0; jp < nc; jp += nr)
        {
            var cols = Math.Min(nr, nc - jp);
            if (job.TransB == Transpose.No)
            {
                // B stored (k x n): each panel row is contiguous in B.
                for (var p = 0; p < kc; p++)
                {
                    var src = job.B + (nint)(pc + p) * job.Ldb + jc + jp;
                    var d = dst + p * nr;
                    if (cols == nr)
                    {
                        new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(d, nr));
                    }
                    else
                    {
                        for (var j = 0; j < cols; j++)
                        {
                            d[j] = src[j];
                        }

                        for (var j = cols; j < nr; j++)
                        {
                            d[j] = 0;
                        }
                    }
                }
            }
            else
            {
                // B stored (n x k): each panel column is contiguous in B.
                for (var j = 0; j < cols; j++)
                {
                    var src = job.B + (nint)(jc + jp + j) * job.Ldb + pc;
                    for (var p = 0; p < kc; p++)
                    {
                        dst[p * nr + j] = src[p];
                    }
                }

                for (var j = cols; j < nr; j++)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        dst[p * nr + j] = 0;
                    }
                }
            }

            dst += nr * kc;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> acc, float alpha, float beta)
    {
        var v = acc * alpha;
        if (beta != 0)
        {
            v = Vector512.FusedMultiplyAdd(Vector512.Load(c), Vector512.Create(beta), v);
        }

        v.Store(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> acc, float alpha, float beta)
    {
        var v = acc * alpha;
        if (beta != 0)
        {
            v = Vector256.FusedMultiplyAdd(Vector256.Load(c), Vector256.Create(beta), v);
        }

        v.Store(c);
    }
}
