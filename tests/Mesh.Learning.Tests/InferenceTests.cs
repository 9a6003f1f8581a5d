using Mesh.Learning.Layers;

namespace Mesh.Learning.Tests;

// The serving path: the same forward code on inference graphs, no tape, buffers reused, many threads on one model.
public class InferenceTests
{
    private sealed class TinyRanker
    {
        public TinyRanker(Random rng)
        {
            Items = new EmbeddingTable("items", 20, 8, rng);
            Pooling = new AttentionPooling("pool", 8, 1, 2, rng);
            Mlp = new Mlp("mlp", [8, 16, 1], rng, Activation.Gelu);
            Norm = new LayerNorm("norm", 8);
        }

        public EmbeddingTable Items { get; }

        public AttentionPooling Pooling { get; }

        public Mlp Mlp { get; }

        public LayerNorm Norm { get; }

        // ids: (B, 4) item history, -1 padded -> (B, 1) click probabilities
        public Tensor Forward(Graph g, int[] ids, Tensor mask)
        {
            var batch = ids.Length / 4;
            var events = g.Reshape(Items.Lookup(g, ids), new Shape(batch, 4, 8));
            return g.Sigmoid(Mlp.Forward(g, Norm.Forward(g, Pooling.Forward(g, events, mask))));
        }
    }

    private static (int[] Ids, float[] Mask) Batch(Random rng, int batch)
    {
        var ids = new int[batch * 4];
        var mask = new float[batch * 4];
        for (var i = 0; i < ids.Length; i++)
        {
            var padded = i % 4 >= 1 + (i / 4) % 4;
            ids[i] = padded ? -1 : rng.Next(20);
            mask[i] = padded ? 0f : 1f;
        }

        return (ids, mask);
    }

    [Fact]
    public void InferenceGraph_WarmForward_AllocatesNothingAndRecordsNoTape()
    {
        var model = new TinyRanker(new Random(1));
        var (ids, mask) = Batch(new Random(2), 8);
        var graph = new Graph(training: false);
        // Built once: the measurement is of the engine, not of the caller building its arguments (a Shape from constant
        // arguments allocates in Debug builds).
        var maskShape = new Shape(8, 4);
        void Forward()
        {
            graph.Reset();
            model.Forward(graph, ids, graph.Input(mask, maskShape));
        }

        Forward();
        Forward();
        var before = GC.GetAllocatedBytesForCurrentThread();
        Forward();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(0, graph.TapeLength);
    }

    [Fact]
    public void ForInference_ConcurrentReaders_MatchSequentialResults()
    {
        var model = new TinyRanker(new Random(3));
        var batches = Enumerable.Range(0, 16).Select(i => Batch(new Random(100 + i), 32)).ToArray();
        var expected = batches.Select(b =>
        {
            var g = new Graph(training: false);
            return model.Forward(g, b.Ids, g.Input(b.Mask, new Shape(32, 4))).ToArray();
        }).ToArray();

        var actual = new float[batches.Length][];
        Parallel.For(0, batches.Length * 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var b = i % batches.Length;
            var g = Graph.ForInference();
            var y = model.Forward(g, batches[b].Ids, g.Input(batches[b].Mask, new Shape(32, 4))).ToArray();
            Assert.Equal(expected[b], y);
            actual[b] = y;
        });

        Assert.All(actual, Assert.NotNull);
    }

    [Fact]
    public void TrainingAndInferenceGraphs_SameForward_SameValues()
    {
        var model = new TinyRanker(new Random(5));
        var (ids, mask) = Batch(new Random(6), 5);
        var training = new Graph();
        var inference = new Graph(training: false);

        var a = model.Forward(training, ids, training.Input(mask, new Shape(5, 4))).ToArray();
        var b = model.Forward(inference, ids, inference.Input(mask, new Shape(5, 4))).ToArray();

        Assert.Equal(a, b);
        Assert.True(training.TapeLength > 0);
        Assert.Throws<InvalidOperationException>(() => inference.Backward(inference.Input(new Shape())));
    }
}
