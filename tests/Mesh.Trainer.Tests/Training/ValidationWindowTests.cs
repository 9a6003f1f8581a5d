using Mesh.Trainer.Training;

namespace Mesh.Trainer.Tests.Training;

public class ValidationWindowTests
{
    private static readonly float[] Labels = [1, 0, 0, 0];
    private static readonly float[] Good = [0.9f, 0.1f, 0.1f, 0.1f];
    private static readonly float[] Flat = [0.25f, 0.25f, 0.25f, 0.25f];

    [Fact]
    public void Verdict_CandidateBetterThanServing_Publishes()
    {
        var window = new ValidationWindow();
        window.Add(Good, Flat, Flat, Labels, informative: true);

        var verdict = window.Verdict();

        Assert.True(verdict.Publish);
        Assert.True(verdict.CandidateNe < verdict.ServingNe);
        Assert.Equal(window.Small.NormalizedEntropy, verdict.SmallNe);
    }

    [Fact]
    public void Verdict_CandidateWorseThanServing_Rejects()
    {
        var window = new ValidationWindow();
        window.Add(Flat, null, Good, Labels, informative: true);

        Assert.False(window.Verdict().Publish);
        Assert.Equal(0, window.Small.Examples);
    }

    [Fact]
    public void Verdict_OnlyServingsOwnWeightsPredicted_Rejects()
    {
        var window = new ValidationWindow();
        window.Add(Good, null, Flat, Labels, informative: false);

        Assert.False(window.Verdict().Publish);
    }

    [Fact]
    public void Verdict_NoClickInTheWindow_Rejects()
    {
        var window = new ValidationWindow();
        window.Add(Good, null, Flat, [0, 0, 0, 0], informative: true);

        var verdict = window.Verdict();

        Assert.False(verdict.Publish);
        Assert.True(double.IsNaN(verdict.CandidateNe));
    }

    [Theory]
    [InlineData(4, 1, 0, 60, true)] // full by examples
    [InlineData(5, 2, 60, 60, true)] // the time span reached with enough examples
    [InlineData(5, 5, 60, 60, false)] // the span reached, too few examples
    [InlineData(5, 2, 59, 60, false)] // neither
    public void IsDue_ExamplesOrSpan_WhicheverFirst(int target, int minExamples, int spanSeconds, int windowSeconds, bool due)
    {
        var window = new ValidationWindow();
        window.Add(Good, null, Flat, Labels, informative: true);

        Assert.Equal(due, window.IsDue(target, minExamples, TimeSpan.FromSeconds(spanSeconds), TimeSpan.FromSeconds(windowSeconds)));
    }
}
