namespace Mesh.Learning.Kernels;

/// <summary>
/// The naive triple loop that <see cref="Gemm"/> is tested against: same contract, one dot product per element of C,
/// accumulated in double.
/// </summary>
public static class GemmReference
{
    public static void Multiply(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0.0;
                for (var p = 0; p < k; p++)
                {
                    var aip = transA == Transpose.No ? a[i * lda + p] : a[p * lda + i];
                    var bpj = transB == Transpose.No ? b[p * ldb + j] : b[j * ldb + p];
                    sum += (double)aip * bpj;
                }

                ref var cij = ref c[i * ldc + j];
                cij = (float)(alpha * sum + (beta == 0 ? 0 : beta * (double)cij));
            }
        }
    }
}
