using Mesh.Learning.Layers;
using Mesh.Learning.Metrics;
using Mesh.Learning.Optim;

namespace Mesh.Learning.Tests;

// Loss decreases: small models learn planted click patterns with the engine's optimizers.
public class TrainingSmokeTests
{
    [Fact]
    public void Mlp_XorClickPattern_LearnsWithAdam()
    {
        // Click probability 0.6 when exactly one of two binary features is on, 0.05 otherwise: no linear model can
        // rank this, an MLP can.
        var rng = new Random(42);
        var mlp = new Mlp("mlp", [2, 16, 16, 1], rng);
        var adam = new Adam(mlp.Parameters, learningRate: 0.01f);
        const int Batch = 128;
        var x = new float[Batch * 2];
        var clicks = new float[Batch];
        var graph = new Graph();
        var losses = new List<float>();
        for (var step = 0; step < 400; step++)
        {
            for (var i = 0; i < Batch; i++)
            {
                int a = rng.Next(2), b = rng.Next(2);
                x[2 * i] = a + 0.1f * (float)Init.Gaussian(rng);
                x[2 * i + 1] = b + 0.1f * (float)Init.Gaussian(rng);
                clicks[i] = rng.NextDouble() < (a != b ? 0.6 : 0.05) ? 1f : 0f;
            }

            graph.Reset();
            var logits = mlp.Forward(graph, graph.Input(x, new Shape(Batch, 2)));
            var loss = graph.BceWithLogits(logits, graph.Input(clicks, new Shape(Batch)));
            losses.Add(loss[0]);
            adam.ZeroGrad();
            graph.Backward(loss);
            GradientClipping.ClipGlobalNorm(mlp.Parameters, 5.0);
            adam.Step();
        }

        // Base-rate log loss is H(0.325) = 0.63; the optimum (true probabilities) is about 0.45.
        var first = losses.Take(20).Average();
        var last = losses.TakeLast(50).Average();
        Assert.True(last < 0.5 && last < 0.8 * first, $"loss went from {first:F3} to {last:F3}");
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void EmbeddingBagAndCross_PlantedPerIdRates_LearnWithAdagradAndAdam()
    {
        // Each example is a bag of two ids out of 50; it is clicked at 30% when both ids are in the same of 4 groups and
        // at 3% otherwise: a pure interaction (each id alone says nothing), learnt through the embeddings.
        var rng = new Random(7);
        var table = new EmbeddingTable("ids", 50, 8, rng, std: 0.3f);
        var cross = new CrossNetwork("cross", 8, 1, rng);
        var head = new Mlp("head", [8, 16, 1], rng);
        var dense = cross.Parameters.Concat(head.Parameters).ToArray();
        var adam = new Adam(dense, learningRate: 0.01f);
        var adagrad = new RowwiseAdagrad([table.Table], learningRate: 0.3f);
        const int Batch = 256;
        var ids = new int[Batch * 2];
        var offsets = Enumerable.Range(0, Batch + 1).Select(i => 2 * i).ToArray();
        var clicks = new float[Batch];
        var validation = new ProgressiveValidation(windowSize: Batch * 50);
        var graph = new Graph();
        for (var step = 0; step < 300; step++)
        {
            for (var i = 0; i < Batch; i++)
            {
                ids[2 * i] = rng.Next(50);
                ids[2 * i + 1] = rng.Next(50);
                var rate = ids[2 * i] % 4 == ids[2 * i + 1] % 4 ? 0.3 : 0.03;
                clicks[i] = rng.NextDouble() < rate ? 1f : 0f;
            }

            graph.Reset();
            var x0 = table.Bag(graph, ids, offsets, Pooling.Sum);
            var logits = head.Forward(graph, cross.Forward(graph, x0));
            var predictions = graph.StopGradient(graph.Sigmoid(logits));
            validation.Add(predictions.Span, clicks);
            var loss = graph.BceWithLogits(logits, graph.Input(clicks, new Shape(Batch)));
            adam.ZeroGrad();
            graph.Backward(loss);
            adam.Step();
            adagrad.Step();
        }

        var windows = validation.Windows;
        Assert.True(windows[^1].NormalizedEntropy < 0.92 && windows[^1].NormalizedEntropy < windows[0].NormalizedEntropy,
            $"NE per window: {string.Join(", ", windows.Select(w => w.NormalizedEntropy.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(windows[^1].Auc > 0.7, $"AUC {windows[^1].Auc:F3}");
    }
}
