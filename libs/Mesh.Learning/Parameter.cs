namespace Mesh.Learning;

/// <summary>
/// A trainable tensor with a stable name (the key in checkpoints). Dense parameters accumulate into
/// <c>Value.Grad</c>; sparse ones (embedding tables) into <see cref="RowGrad"/>, which holds only the rows a batch
/// touched, so that an optimizer step costs what the batch used and not the table's size.
/// </summary>
public sealed class Parameter
{
    public Parameter(string name, Shape shape, bool sparse = false)
        : this(name, new Tensor(shape), sparse)
    {
    }

    public Parameter(string name, Tensor value, bool sparse = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (sparse && value.Shape.Rank != 2)
        {
            throw new ArgumentException($"a sparse parameter is a (rows, dim) table, not {value.Shape}", nameof(value));
        }

        Name = name;
        Value = value;
        IsSparse = sparse;
        if (sparse)
        {
            RowGrad = new SparseRowGrad(value.Shape[1]);
        }
        else
        {
            value.Grad = new Tensor(value.Shape);
        }
    }

    public string Name { get; }

    public Tensor Value { get; }

    public Shape Shape => Value.Shape;

    public bool IsSparse { get; }

    /// <summary>The accumulated gradient of a sparse parameter; null for dense ones.</summary>
    public SparseRowGrad? RowGrad { get; }

    public void ZeroGrad()
    {
        if (RowGrad is not null)
        {
            RowGrad.Clear();
        }
        else
        {
            Value.Grad!.Span.Clear();
        }
    }

    /// <summary>The gradient as a dense array of <see cref="Shape"/> (untouched rows of a sparse one are 0).</summary>
    public float[] GradToDense()
    {
        if (RowGrad is null)
        {
            return Value.Grad!.ToArray();
        }

        var dense = new float[Value.Length];
        for (var i = 0; i < RowGrad.Count; i++)
        {
            RowGrad.Values(i).CopyTo(dense.AsSpan(RowGrad.RowIndex(i) * RowGrad.Width));
        }

        return dense;
    }

    public override string ToString() => $"{Name}{Shape}{(IsSparse ? " sparse" : "")}";
}

/// <summary>Gradient rows of an embedding table, in the order the rows were first touched since the last clear.</summary>
public sealed class SparseRowGrad(int width)
{
    private readonly Dictionary<int, int> _slots = [];
    private readonly List<int> _rows = [];
    private float[] _values = new float[width * 16];

    public int Width { get; } = width;

    /// <summary>Number of touched rows.</summary>
    public int Count => _rows.Count;

    /// <summary>Table row of the <paramref name="slot"/>-th touched row.</summary>
    public int RowIndex(int slot) => _rows[slot];

    /// <summary>Gradient of the <paramref name="slot"/>-th touched row.</summary>
    public Span<float> Values(int slot) => _values.AsSpan(slot * Width, Width);

    /// <summary>The gradient row of table row <paramref name="row"/>, zero when first touched; add into it.</summary>
    public Span<float> Accumulate(int row)
    {
        if (!_slots.TryGetValue(row, out var slot))
        {
            slot = _rows.Count;
            if ((slot + 1) * Width > _values.Length)
            {
                Array.Resize(ref _values, Math.Max(_values.Length * 2, (slot + 1) * Width));
            }

            _slots.Add(row, slot);
            _rows.Add(row);
            _values.AsSpan(slot * Width, Width).Clear();
        }

        return _values.AsSpan(slot * Width, Width);
    }

    public void Clear()
    {
        _slots.Clear();
        _rows.Clear();
    }
}
