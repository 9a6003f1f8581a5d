namespace Mesh.Bench.Tests;

public class BenchOutputTests
{
    [Theory]
    [InlineData(12345.678, "12346")]
    [InlineData(123.456, "123.5")]
    [InlineData(12.3456, "12.35")]
    [InlineData(0.12345, "0.123")]
    [InlineData(double.NaN, "nan")]
    public void Format_Magnitude_FewerDecimalsForLargerValues(double value, string expected) =>
        Assert.Equal(expected, BenchOutput.Format(value));

    [Fact]
    public void WriteFigure_AnyValue_IsOneParsableLine()
    {
        using var writer = new StringWriter();

        BenchOutput.WriteFigure(writer, "rank_100_rps_vs_bare", 0.25, "ratio");
        BenchOutput.WriteFigure(writer, "rank_100_errors", 3L, "count");

        Assert.Equal(["BENCH rank_100_rps_vs_bare 0.250 ratio", "BENCH rank_100_errors 3 count"], writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
