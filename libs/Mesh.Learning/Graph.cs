namespace Mesh.Learning;

/// <summary>
/// Where ops run: a tape of backward steps (reverse-mode autodiff) and an arena that hands out the ops' output buffers.
/// The n-th allocation after <see cref="Reset"/> reuses the n-th buffer of the previous pass, so a model that runs the
/// same ops batch after batch allocates nothing once warm. A training graph records each op's backward step when one
/// of its inputs has a gradient; an inference graph records nothing and tracks no gradient. Ops are the instance
/// methods in <c>Ops/</c>, each forward beside its backward.
/// </summary>
/// <remarks>
/// A graph belongs to one thread. Parameters are only read by forward passes, so any number of threads may run
/// inference graphs over one frozen parameter set (<see cref="ForInference"/> gives each thread its own).
/// Tensors returned by a graph live until its next <see cref="Reset"/>: copy what must outlive it.
/// </remarks>
public sealed partial class Graph
{
    [ThreadStatic]
    private static Graph? _inference;

    private readonly List<ITapeEntry> _tape = [];
    private readonly List<Tensor> _headers = [];
    private readonly List<float[]> _buffers = [];
    private int _nextHeader;
    private int _nextBuffer;

    /// <param name="training">Record backward steps and track gradients (default true).</param>
    public Graph(bool training = true)
    {
        IsTraining = training;
    }

    public bool IsTraining { get; }

    /// <summary>
    /// Threads each forward GEMM may use; 0 (default) means <see cref="Kernels.Gemm.MaxThreads"/>. A server that runs
    /// one request per thread sets 1, so that concurrent requests do not oversubscribe the cores.
    /// </summary>
    public int GemmThreads { get; set; }

    /// <summary>Backward steps recorded since the last <see cref="Reset"/> or <see cref="Backward(Tensor)"/>.</summary>
    public int TapeLength => _tape.Count;

    /// <summary>The calling thread's inference graph, reset: no tape, buffers reused across calls on this thread.</summary>
    public static Graph ForInference()
    {
        var graph = _inference ??= new Graph(training: false);
        graph.Reset();
        return graph;
    }

    /// <summary>Forgets the tape and hands the arena's buffers out again from the first; earlier outputs become invalid.</summary>
    public void Reset()
    {
        _tape.Clear();
        _nextHeader = 0;
        _nextBuffer = 0;
    }

    /// <summary>A zeroed tensor from the arena, without gradient, for the caller to fill with a batch.</summary>
    public Tensor Input(Shape shape)
    {
        var t = Output(shape, requiresGrad: false);
        t.Span.Clear();
        return t;
    }

    /// <summary>A copy of <paramref name="values"/> in the arena, without gradient.</summary>
    public Tensor Input(ReadOnlySpan<float> values, Shape shape)
    {
        if (values.Length != shape.Count)
        {
            throw new ArgumentException($"{values.Length} values for shape {shape}", nameof(values));
        }

        var t = Output(shape, requiresGrad: false);
        values.CopyTo(t.Span);
        return t;
    }

    /// <summary>Backpropagates from a scalar loss (d loss / d loss = 1) into every tracked tensor and parameter.</summary>
    public void Backward(Tensor loss)
    {
        if (loss.Length != 1)
        {
            throw new ArgumentException($"the loss must be a scalar, not {loss.Shape}; pass a seed gradient otherwise", nameof(loss));
        }

        Backward(loss, [1f]);
    }

    /// <summary>
    /// Backpropagates <paramref name="seed"/> (d loss / d output, the shape of <paramref name="output"/>). Gradients
    /// accumulate: zero the parameters' gradients between steps. The tape is consumed.
    /// </summary>
    public void Backward(Tensor output, ReadOnlySpan<float> seed)
    {
        if (!IsTraining)
        {
            throw new InvalidOperationException("an inference graph records no tape; create the graph with training: true");
        }

        if (output.Grad is null)
        {
            throw new InvalidOperationException("the output depends on no tensor with a gradient");
        }

        if (seed.Length != output.Length)
        {
            throw new ArgumentException($"seed of {seed.Length} values for output {output.Shape}", nameof(seed));
        }

        seed.CopyTo(output.Grad.Span);
        for (var i = _tape.Count - 1; i >= 0; i--)
        {
            _tape[i].Run();
        }

        _tape.Clear();
    }

    // Whether an op's output needs a gradient: only in training, when an input has one.
    private bool Tracks(Tensor a) => IsTraining && a.Grad is not null;

    private bool Tracks(Tensor a, Tensor? b) => IsTraining && (a.Grad is not null || b?.Grad is not null);

    private bool Tracks(Tensor a, Tensor? b, Tensor? c) => IsTraining && (a.Grad is not null || b?.Grad is not null || c?.Grad is not null);

    // An op's output: values left as the last pass wrote them (every op writes all of them), gradient zeroed.
    private Tensor Output(Shape shape, bool requiresGrad)
    {
        Tensor? grad = null;
        if (requiresGrad)
        {
            var gradData = TakeBuffer(shape.Count);
            Array.Clear(gradData, 0, shape.Count);
            grad = TakeHeader(gradData, 0, shape, null);
        }

        return TakeHeader(TakeBuffer(shape.Count), 0, shape, grad);
    }

    // A view of x's storage (and of its gradient's, unless dropped) in another shape.
    private Tensor View(Tensor x, int offset, Shape shape, bool withGrad)
    {
        var grad = withGrad && x.Grad is not null ? TakeHeader(x.Grad.Data, x.Grad.Offset + offset, shape, null) : null;
        return TakeHeader(x.Data, x.Offset + offset, shape, grad);
    }

    // Arena floats for an op's saved statistics; contents undefined.
    private Memory<float> Scratch(int count) => TakeBuffer(count).AsMemory(0, count);

    private Tensor TakeHeader(float[] data, int offset, Shape shape, Tensor? grad)
    {
        if (_nextHeader == _headers.Count)
        {
            _headers.Add(new Tensor(data, offset, shape, grad));
        }
        else
        {
            _headers[_nextHeader].Set(data, offset, shape, grad);
        }

        return _headers[_nextHeader++];
    }

    private float[] TakeBuffer(int count)
    {
        if (_nextBuffer == _buffers.Count)
        {
            _buffers.Add(new float[count]);
        }
        else if (_buffers[_nextBuffer].Length < count)
        {
            _buffers[_nextBuffer] = new float[count];
        }

        return _buffers[_nextBuffer++];
    }

    // Static lambdas with a value-tuple state: no closure is allocated unless a step is actually recorded.
    private void Record<T>(Action<T> backward, T state) => _tape.Add(new TapeEntry<T>(backward, state));

    private interface ITapeEntry
    {
        void Run();
    }

    private sealed class TapeEntry<T>(Action<T> backward, T state) : ITapeEntry
    {
        public void Run() => backward(state);
    }
}
