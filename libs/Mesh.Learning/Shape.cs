namespace Mesh.Learning;

/// <summary>The dimensions of a tensor, rank 0 to 4, row-major (the last axis is contiguous).</summary>
public readonly struct Shape : IEquatable<Shape>
{
    public const int MaxRank = 4;

    private readonly int _d0, _d1, _d2, _d3;

    public Shape(params ReadOnlySpan<int> dims)
    {
        if (dims.Length > MaxRank)
        {
            throw new ArgumentException($"rank {dims.Length} is above the supported {MaxRank}", nameof(dims));
        }

        foreach (var d in dims)
        {
            if (d < 0)
            {
                throw new ArgumentException($"negative dimension in ({string.Join(", ", dims.ToArray())})", nameof(dims));
            }
        }

        Rank = dims.Length;
        _d0 = dims.Length > 0 ? dims[0] : 0;
        _d1 = dims.Length > 1 ? dims[1] : 0;
        _d2 = dims.Length > 2 ? dims[2] : 0;
        _d3 = dims.Length > 3 ? dims[3] : 0;
    }

    public int Rank { get; }

    public int this[int axis] => (uint)axis < (uint)Rank
        ? axis switch { 0 => _d0, 1 => _d1, 2 => _d2, _ => _d3 }
        : throw new ArgumentOutOfRangeException(nameof(axis), axis, $"shape {this} has rank {Rank}");

    /// <summary>Number of elements (1 for rank 0).</summary>
    public int Count
    {
        get
        {
            var count = 1;
            for (var i = 0; i < Rank; i++)
            {
                count *= this[i];
            }

            return count;
        }
    }

    /// <summary>Size of the last (feature) axis; 1 for rank 0.</summary>
    public int Last => Rank == 0 ? 1 : this[Rank - 1];

    /// <summary>Product of all axes but the last: the rows a (..., D) tensor is processed as.</summary>
    public int Rows => Last == 0 ? 0 : Count / Last;

    /// <summary>The same shape with the last axis resized.</summary>
    public Shape WithLast(int last)
    {
        Span<int> dims = stackalloc int[MaxRank];
        CopyTo(dims);
        dims[Math.Max(Rank - 1, 0)] = last;
        return new Shape(dims[..Math.Max(Rank, 1)]);
    }

    public void CopyTo(Span<int> dims)
    {
        for (var i = 0; i < Rank; i++)
        {
            dims[i] = this[i];
        }
    }

    public int[] ToArray()
    {
        var dims = new int[Rank];
        CopyTo(dims);
        return dims;
    }

    public bool Equals(Shape other) =>
        Rank == other.Rank && _d0 == other._d0 && _d1 == other._d1 && _d2 == other._d2 && _d3 == other._d3;

    public override bool Equals(object? obj) => obj is Shape other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Rank, _d0, _d1, _d2, _d3);

    public override string ToString() => $"({string.Join(", ", ToArray())})";

    public static bool operator ==(Shape left, Shape right) => left.Equals(right);

    public static bool operator !=(Shape left, Shape right) => !left.Equals(right);
}
