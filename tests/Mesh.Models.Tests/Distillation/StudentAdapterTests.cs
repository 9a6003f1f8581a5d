using Mesh.Models.Distillation;

namespace Mesh.Models.Tests.Distillation;

public class StudentAdapterTests
{
    [Fact]
    public void Predict_Untrained_PassesTheTeacherThrough()
    {
        var adapter = new StudentAdapter("sa", 8, 1e-2f, new Random(1));
        float[] teacher = [0.01f, 0.2f, 0.9f, float.NaN];
        var predicted = new float[4];

        adapter.Predict(teacher, predicted);

        Assert.Equal(0.01f, predicted[0], 5);
        Assert.Equal(0.2f, predicted[1], 5);
        Assert.Equal(0.9f, predicted[2], 5);
        Assert.True(float.IsNaN(predicted[3]));
    }

    // A stale teacher that says 0.05 where fresh clicks come at 0.2: the adapter learns the correction.
    [Fact]
    public void Step_FreshLabelsAboveAStaleTeacher_MovesThePredictionTowardThem()
    {
        var adapter = new StudentAdapter("sa", 8, 1e-2f, new Random(1));
        var rng = new Random(2);
        var teacher = Enumerable.Repeat(0.05f, 256).ToArray();
        for (var step = 0; step < 300; step++)
        {
            var labels = teacher.Select(_ => rng.NextDouble() < 0.2 ? 1f : 0f).ToArray();
            adapter.Step(teacher, labels);
        }

        var predicted = new float[1];
        adapter.Predict([0.05f], predicted);
        Assert.InRange(predicted[0], 0.15f, 0.25f);
        Assert.Equal(300, adapter.Steps);
    }
}
