using Mesh.Learning.Kernels;

namespace Mesh.Learning.Tests.Kernels;

public class GemmTests
{
    // Odd sizes around the micro-kernel's 6 x 16 / 6 x 32 tiles and the 256-deep k blocks, square and not.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (7, 17, 33), (33, 7, 17), (17, 33, 7), (65, 127, 1), (1, 257, 65), (257, 1, 33),
        (127, 65, 257), (257, 33, 65), (65, 65, 65), (127, 127, 127), (257, 257, 257), (6, 32, 256), (12, 64, 512),
    ];

    public static TheoryData<GemmKernel, int, Transpose, Transpose> Variants()
    {
        var data = new TheoryData<GemmKernel, int, Transpose, Transpose>();
        var kernels = new List<GemmKernel> { GemmKernel.Auto };
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            kernels.Add(GemmKernel.Vector256);
        }

        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            kernels.Add(GemmKernel.Vector512);
        }

        foreach (var kernel in kernels)
        {
            foreach (var threads in new[] { 1, 2 })
            {
                foreach (var ta in new[] { Transpose.No, Transpose.Yes })
                {
                    foreach (var tb in new[] { Transpose.No, Transpose.Yes })
                    {
                        data.Add(kernel, threads, ta, tb);
                    }
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Multiply_OddSizesAllTransposes_MatchesReference(GemmKernel kernel, int threads, Transpose ta, Transpose tb)
    {
        var rng = new Random(HashCode.Combine(kernel, threads, ta, tb) & 0xffff);
        (float Alpha, float Beta)[] scalars = [(1f, 0f), (-0.5f, 1f), (2f, -0.75f)];
        for (var s = 0; s < Shapes.Length; s++)
        {
            var (m, n, k) = Shapes[s];
            var (alpha, beta) = scalars[s % scalars.Length];
            // Leading dimensions wider than the rows on every other shape: the operands are windows of larger matrices.
            var pad = s % 2;
            CheckAgainstReference(rng, ta, tb, m, n, k, alpha, beta, pad, threads, kernel);
        }
    }

    [Theory]
    [InlineData(2, 3, 2000, 70)]
    [InlineData(2, 5, 100, 300)]
    [InlineData(2, 1000, 40, 9)]
    public void Multiply_FewRowsOrFewColumns_SplitsAndMatchesReference(int threads, int m, int n, int k)
    {
        var rng = new Random(m + n + k);
        foreach (var ta in new[] { Transpose.No, Transpose.Yes })
        {
            CheckAgainstReference(rng, ta, Transpose.No, m, n, k, 1f, 0.5f, 0, threads, GemmKernel.Auto);
        }
    }

    [Theory]
    [InlineData(Transpose.No, Transpose.No)]
    [InlineData(Transpose.Yes, Transpose.Yes)]
    public void Multiply_OneOrTwoThreads_BitIdentical(Transpose ta, Transpose tb)
    {
        // Threads split C on tile boundaries and each element sums its products in the same order, so training gives
        // the same weights whatever the thread count.
        var rng = new Random(21);
        const int M = 301, N = 203, K = 517;
        var a = TestData.Uniform(rng, M * K);
        var b = TestData.Uniform(rng, K * N);
        var one = TestData.Uniform(rng, M * N);
        var two = (float[])one.Clone();

        Gemm.Multiply(ta, tb, M, N, K, 0.5f, a, ta == Transpose.No ? K : M, b, tb == Transpose.No ? N : K, 0.25f, one, N, threads: 1);
        Gemm.Multiply(ta, tb, M, N, K, 0.5f, a, ta == Transpose.No ? K : M, b, tb == Transpose.No ? N : K, 0.25f, two, N, threads: 2);

        Assert.Equal(one, two);
    }

    [Fact]
    public void Multiply_BetaZero_IgnoresNaNInC()
    {
        var a = new float[] { 1, 2, 3, 4 };
        var c = new float[] { float.NaN, float.NaN, float.NaN, float.NaN };

        Gemm.Multiply(Transpose.No, Transpose.No, 2, 2, 2, 1f, a, 2, a, 2, 0f, c, 2);

        Assert.Equal([7f, 10f, 15f, 22f], c);
    }

    [Fact]
    public void Multiply_ZeroDepth_ScalesC()
    {
        var c = new float[] { 1, 2, 3, 4 };

        Gemm.Multiply(Transpose.No, Transpose.No, 2, 2, 0, 1f, [], 0, [], 2, 3f, c, 2);

        Assert.Equal([3f, 6f, 9f, 12f], c);
    }

    [Fact]
    public void Multiply_OperandTooShort_Throws()
    {
        var c = new float[4];

        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Transpose.No, Transpose.No, 2, 2, 2, 1f, new float[3], 2, new float[4], 2, 0f, c, 2));
    }

    private static void CheckAgainstReference(Random rng, Transpose ta, Transpose tb, int m, int n, int k,
        float alpha, float beta, int pad, int threads, GemmKernel kernel)
    {
        int aRows = ta == Transpose.No ? m : k, aCols = ta == Transpose.No ? k : m;
        int bRows = tb == Transpose.No ? k : n, bCols = tb == Transpose.No ? n : k;
        int lda = aCols + pad, ldb = bCols + 2 * pad, ldc = n + 3 * pad;
        var a = TestData.Uniform(rng, aRows * lda);
        var b = TestData.Uniform(rng, bRows * ldb);
        var c = TestData.Uniform(rng, m * ldc);
        var expected = (float[])c.Clone();
        // |alpha| Σ|a||b| + |beta c|: the scale of each element's rounding error.
        var bound = new float[m * ldc];
        GemmReference.Multiply(ta, tb, m, n, k, Math.Abs(alpha), Abs(a), lda, Abs(b), ldb, 0f, bound, ldc);

        Gemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, kernel);
        GemmReference.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);

        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < ldc; j++)
            {
                var index = i * ldc + j;
                if (j >= n)
                {
                    // Padding between rows of C is never written.
                    Assert.Equal(expected[index], c[index]);
                    continue;
                }

                var tolerance = 1e-5f * (bound[index] + Math.Abs(beta * expected[index]) + 1e-3f);
                if (Math.Abs(c[index] - expected[index]) > tolerance)
                {
                    Assert.Fail($"{kernel} {threads}t {ta}{tb} {m}x{n}x{k} alpha {alpha} beta {beta}: C[{i},{j}] = {c[index]}, reference {expected[index]}");
                }
            }
        }
    }

    private static float[] Abs(float[] values) => [.. values.Select(Math.Abs)];
}
