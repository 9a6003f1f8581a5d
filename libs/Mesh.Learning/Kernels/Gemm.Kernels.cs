using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Mesh.Learning.Kernels;

// The register-tiled micro-kernels of Gemm, unrolled by hand: one accumulator register per (row, vector) of the tile,
// one broadcast of A per row and one load of B per vector for each step along k. 6 x 16 uses 12 of the 16 AVX2
// registers; 6 x 32 the same 12 accumulators in AVX-512 registers (measured against 8x32, 12x32, 14x32, 4x48, 6x48
// and 8x48 on Zen 5: none was clearly faster).
public static unsafe partial class Gemm
{
    // (6 x kc) packed A panel times a (kc x 16) B panel (packed, or rows of B ldb apart): 12 accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256x6x16(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(a4, b0, c40); c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(a5, b0, c50); c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
            a += 6;
            b += ldb;
        }

        Store(c + 0, c00, alpha, beta); Store(c + 8, c01, alpha, beta); c += ldc;
        Store(c + 0, c10, alpha, beta); Store(c + 8, c11, alpha, beta); c += ldc;
        Store(c + 0, c20, alpha, beta); Store(c + 8, c21, alpha, beta); c += ldc;
        Store(c + 0, c30, alpha, beta); Store(c + 8, c31, alpha, beta); c += ldc;
        Store(c + 0, c40, alpha, beta); Store(c + 8, c41, alpha, beta); c += ldc;
        Store(c + 0, c50, alpha, beta); Store(c + 8, c51, alpha, beta);
    }

    // (6 x kc) packed A panel times a (kc x 32) B panel (packed, or rows of B ldb apart): 12 accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512x6x32(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
            a += 6;
            b += ldb;
        }

        Store(c + 0, c00, alpha, beta); Store(c + 16, c01, alpha, beta); c += ldc;
        Store(c + 0, c10, alpha, beta); Store(c + 16, c11, alpha, beta); c += ldc;
        Store(c + 0, c20, alpha, beta); Store(c + 16, c21, alpha, beta); c += ldc;
        Store(c + 0, c30, alpha, beta); Store(c + 16, c31, alpha, beta); c += ldc;
        Store(c + 0, c40, alpha, beta); Store(c + 16, c41, alpha, beta); c += ldc;
        Store(c + 0, c50, alpha, beta); Store(c + 16, c51, alpha, beta);
    }
}
