namespace Mesh.Learning;

/// <summary>
/// A dense float32 tensor: a window of <see cref="Shape.Count"/> contiguous floats of <see cref="Data"/> starting at
/// <see cref="Offset"/>, row-major. Views (<see cref="Reshape"/>, <see cref="Rows"/>) share the storage, and their
/// <see cref="Grad"/> shares the gradient's storage, so gradients flowing into a view land in the viewed tensor.
/// </summary>
public sealed class Tensor
{
    public Tensor(Shape shape)
        : this(new float[shape.Count], 0, shape, null)
    {
    }

    public Tensor(float[] data, Shape shape)
        : this(data, 0, shape, null)
    {
        if (data.Length != shape.Count)
        {
            throw new ArgumentException($"{data.Length} floats do not make a tensor of shape {shape}", nameof(data));
        }
    }

    internal Tensor(float[] data, int offset, Shape shape, Tensor? grad)
    {
        Data = data;
        Offset = offset;
        Shape = shape;
        Grad = grad;
    }

    public float[] Data { get; private set; }

    public int Offset { get; private set; }

    public Shape Shape { get; private set; }

    /// <summary>The gradient of the loss with respect to this tensor (same shape), or null when none is tracked.</summary>
    public Tensor? Grad { get; internal set; }

    public int Length => Shape.Count;

    public Span<float> Span => Data.AsSpan(Offset, Length);

    public float this[int index]
    {
        get => Span[index];
        set => Span[index] = value;
    }

    public static Tensor Zeros(params ReadOnlySpan<int> dims) => new(new Shape(dims));

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of the given dimensions.</summary>
    public static Tensor From(float[] data, params ReadOnlySpan<int> dims) => new(data, new Shape(dims));

    /// <summary>Row <paramref name="row"/> of the tensor seen as (<see cref="Shape.Rows"/>, <see cref="Shape.Last"/>).</summary>
    public Span<float> Row(int row) => Data.AsSpan(Offset + row * Shape.Last, Shape.Last);

    /// <summary>A view with the same elements in another shape of the same count.</summary>
    public Tensor Reshape(Shape shape)
    {
        CheckReshape(shape);
        return new Tensor(Data, Offset, shape, Grad?.Reshape(shape));
    }

    /// <summary>A view of <paramref name="count"/> entries of the first axis from <paramref name="start"/>.</summary>
    public Tensor Rows(int start, int count)
    {
        var shape = RowsShape(start, count, out var offset);
        return new Tensor(Data, Offset + offset, shape, Grad?.Rows(start, count));
    }

    public float[] ToArray() => Span.ToArray();

    public override string ToString() => $"Tensor{Shape}";

    internal void Set(float[] data, int offset, Shape shape, Tensor? grad)
    {
        Data = data;
        Offset = offset;
        Shape = shape;
        Grad = grad;
    }

    internal void CheckReshape(Shape shape)
    {
        if (shape.Count != Length)
        {
            throw new ArgumentException($"cannot view {Shape} as {shape}: {Length} elements against {shape.Count}", nameof(shape));
        }
    }

    internal Shape RowsShape(int start, int count, out int offset)
    {
        if (Shape.Rank == 0 || start < 0 || count < 0 || start + count > Shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) of {Shape}");
        }

        Span<int> dims = stackalloc int[Shape.MaxRank];
        Shape.CopyTo(dims);
        var rowLength = Shape[0] == 0 ? 0 : Length / Shape[0];
        dims[0] = count;
        offset = start * rowLength;
        return new Shape(dims[..Shape.Rank]);
    }
}
