using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Mesh.Models;

/// <summary>
/// A ranking model as stored in the <c>models</c> state store: JSON with the weights as base64 float32
/// (little-endian) and a SHA-256 over them, so a truncated or altered checkpoint is refused on load.
/// </summary>
public sealed record RankingCheckpoint
{
    public const string CurrentFormat = "mesh.ranking.logistic/1";

    public required string Format { get; init; }
    public required long Version { get; init; }
    public required long TrainedExamples { get; init; }
    public required int HashBits { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required IReadOnlyList<TierWeights> Tiers { get; init; }

    /// <summary>Hex SHA-256 over each tier's name and weight bytes, in order.</summary>
    public required string Checksum { get; init; }

    public static RankingCheckpoint From(RankingModel model, DateTimeOffset createdAt)
    {
        var tiers = model.Tiers.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new TierWeights
            {
                Name = t.Key,
                Hashed = MemoryMarshal.AsBytes(t.Value.HashedWeights.AsSpan()).ToArray(),
                Dense = MemoryMarshal.AsBytes(t.Value.DenseWeights.AsSpan()).ToArray(),
            })
            .ToList();
        return new RankingCheckpoint
        {
            Format = CurrentFormat,
            Version = model.Version,
            TrainedExamples = model.TrainedExamples,
            HashBits = RankingFeatures.HashBits,
            CreatedAt = createdAt,
            Tiers = tiers,
            Checksum = ChecksumOf(tiers),
        };
    }

    /// <summary>Rebuilds the model; throws <see cref="InvalidDataException"/> for a corrupt or incompatible checkpoint.</summary>
    public RankingModel ToModel()
    {
        if (Format != CurrentFormat || HashBits != RankingFeatures.HashBits)
        {
            throw new InvalidDataException($"Checkpoint v{Version} has format '{Format}' with {HashBits} hash bits; this build reads '{CurrentFormat}' with {RankingFeatures.HashBits}.");
        }

        if (ChecksumOf(Tiers) != Checksum)
        {
            throw new InvalidDataException($"Checkpoint v{Version} is corrupt: checksum mismatch.");
        }

        var tiers = new Dictionary<string, LogisticTier>(StringComparer.Ordinal);
        foreach (var t in Tiers)
        {
            tiers[t.Name] = new LogisticTier(t.Name, ToFloats(t.Hashed), ToFloats(t.Dense));
        }

        return new RankingModel(Version, TrainedExamples, tiers);
    }

    private static float[] ToFloats(byte[] bytes)
    {
        if (bytes.Length % sizeof(float) != 0)
        {
            throw new InvalidDataException("Checkpoint weights are not whole float32 values.");
        }

        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    private static string ChecksumOf(IReadOnlyList<TierWeights> tiers)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tiers)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(t.Name));
            sha.AppendData(t.Hashed);
            sha.AppendData(t.Dense);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}

public sealed record TierWeights
{
    public required string Name { get; init; }

    /// <summary>float32 little-endian; base64 in JSON.</summary>
    public required byte[] Hashed { get; init; }

    public required byte[] Dense { get; init; }
}
