namespace Mesh.World;

/// <summary>A user: fixed traits drawn at creation, plus an interest drift that is walked lazily, minute by minute.</summary>
internal sealed class UserState
{
    public required int Index { get; init; }
    public required string Id { get; init; }

    /// <summary>(D): a mix of 1-3 category directions plus noise; the drift is added on top.</summary>
    public required double[] BaseInterest { get; init; }

    /// <summary>Logit offset: how clicky this user is.</summary>
    public required double Bias { get; init; }

    /// <summary>Index into <see cref="SyntheticWorld.Devices"/>.</summary>
    public required int PreferredDevice { get; init; }

    /// <summary>(3): probability of each of <see cref="SyntheticWorld.Surfaces"/>, summing to 1.</summary>
    public required double[] SurfaceMix { get; init; }

    // The walk has its own Random, created on first use and only ever stepped forward, so the drift at a given minute
    // does not depend on which users were looked at before, nor in what order.
    public Random? DriftRandom { get; set; }

    /// <summary>(D): drift away from <see cref="BaseInterest"/> at minute <see cref="DriftMinute"/> since the world's start.</summary>
    public double[]? Drift { get; set; }

    public long DriftMinute { get; set; }
}

/// <summary>An ad, alive from <see cref="Born"/> until <see cref="Dies"/>; kept after death so late clicks can still be scored.</summary>
internal sealed class AdState
{
    public required int Index { get; init; }
    public required string Id { get; init; }
    public required int Category { get; init; }
    public required string CategoryId { get; init; }

    /// <summary>(D): the category direction plus noise.</summary>
    public required double[] Latent { get; init; }

    /// <summary>Logit offset: how clickable the creative is.</summary>
    public required double Quality { get; init; }

    public required DateTimeOffset Born { get; init; }
    public required DateTimeOffset Dies { get; init; }
}
