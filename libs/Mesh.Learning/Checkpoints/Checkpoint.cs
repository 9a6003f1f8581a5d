using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Mesh.Learning.Checkpoints;

/// <summary>What a checkpoint says about itself besides its tensors.</summary>
public sealed record CheckpointInfo
{
    /// <summary>The model's architecture name; loading into another architecture is refused.</summary>
    public required string Architecture { get; init; }

    /// <summary>Training steps (or examples, as the trainer counts) behind these weights.</summary>
    public long Step { get; init; }

    /// <summary>Free-form JSON: model hyper-parameters, feature configuration, anything needed to rebuild the model.</summary>
    public JsonObject? Config { get; init; }

    /// <summary>Named figures at save time (NE, AUC, ...).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
}

/// <summary>A checkpoint read back: its info and its tensors in file order.</summary>
public sealed record CheckpointContents(CheckpointInfo Info, IReadOnlyList<(string Name, Tensor Value)> Tensors)
{
    public Tensor this[string name] => Tensors.FirstOrDefault(t => t.Name == name).Value
        ?? throw new KeyNotFoundException($"the checkpoint has no tensor '{name}'");
}

/// <summary>A checkpoint that cannot be read or does not fit the model it is loaded into; the message says why.</summary>
public sealed class CheckpointException(string message) : IOException(message);

/// <summary>
/// The checkpoint format, version 1, little-endian:
/// <code>
/// offset  size  field
///      0     8  magic "MESHCKPT"
///      8     4  format version (uint32) = 1
///     12     4  header length H (uint32), bytes
///     16     8  payload length P (uint64), bytes
///     24     H  header: UTF-8 JSON {architecture, step, config, metrics, tensors: [{name, shape}]}
///   24+H     P  payload: each tensor's float32 values in header order, row-major
/// 24+H+P    32  SHA-256 of every byte before it
/// </code>
/// Reading checks, in order: the length of the preamble, the magic, the version, the total length (truncation), the
/// checksum (corruption), then the header; loading into a model checks the architecture, then every tensor's name and shape.
/// </summary>
public static class Checkpoint
{
    public const int FormatVersion = 1;
    private const int PreambleLength = 24;
    private const int HashLength = 32;
    private const int MaxHeaderLength = 64 << 20;

    /// <summary>The first 8 bytes of every checkpoint.</summary>
    public static ReadOnlySpan<byte> Magic => "MESHCKPT"u8;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The checkpoint of <paramref name="parameters"/> as bytes (what a model store holds).</summary>
    public static byte[] ToBytes(CheckpointInfo info, IEnumerable<Parameter> parameters)
    {
        using var stream = new MemoryStream();
        Save(stream, info, parameters);
        return stream.ToArray();
    }

    /// <summary>Writes <paramref name="parameters"/> under their names.</summary>
    public static void Save(Stream stream, CheckpointInfo info, IEnumerable<Parameter> parameters) =>
        Save(stream, info, parameters.Select(p => (p.Name, p.Value)));

    /// <summary>Writes named tensors (parameters, optimizer state...); names must be unique.</summary>
    public static void Save(Stream stream, CheckpointInfo info, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        EnsureLittleEndian();
        var list = tensors.ToList();
        var duplicate = list.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"tensor name '{duplicate.Key}' appears twice", nameof(tensors));
        }

        var header = new Header(info.Architecture, info.Step, info.Config, new Dictionary<string, double>(info.Metrics),
            [.. list.Select(t => new TensorEntry(t.Name, t.Value.Shape.ToArray()))]);
        var headerBytes = JsonSerializer.SerializeToUtf8Bytes(header, JsonOptions);
        var payloadLength = list.Sum(t => (long)t.Value.Length * sizeof(float));

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Write(ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(bytes);
            stream.Write(bytes);
        }

        Span<byte> preamble = stackalloc byte[PreambleLength];
        Magic.CopyTo(preamble);
        BinaryPrimitives.WriteUInt32LittleEndian(preamble[8..], FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(preamble[12..], (uint)headerBytes.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(preamble[16..], (ulong)payloadLength);
        Write(preamble);
        Write(headerBytes);
        foreach (var (_, value) in list)
        {
            Write(MemoryMarshal.AsBytes(value.Span));
        }

        stream.Write(hash.GetHashAndReset());
    }

    /// <summary>Saves to <paramref name="path"/> through a temporary file and a rename, so a crash never leaves half a checkpoint.</summary>
    public static void SaveFile(string path, CheckpointInfo info, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var temporary = path + ".tmp";
        using (var file = File.Create(temporary))
        {
            Save(file, info, tensors);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads and verifies a whole checkpoint; throws <see cref="CheckpointException"/> when it is not a valid one.</summary>
    public static CheckpointContents Read(Stream stream)
    {
        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }

        return Read(bytes);
    }

    public static CheckpointContents Read(ReadOnlySpan<byte> bytes)
    {
        EnsureLittleEndian();
        if (bytes.Length < PreambleLength)
        {
            throw new CheckpointException($"truncated checkpoint: {bytes.Length} bytes, fewer than the {PreambleLength}-byte preamble");
        }

        if (!bytes[..8].SequenceEqual(Magic))
        {
            throw new CheckpointException($"not a Mesh checkpoint: the file starts with {Convert.ToHexString(bytes[..8])}, not the magic \"MESHCKPT\"");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != FormatVersion)
        {
            throw new CheckpointException($"checkpoint format version {version} is not supported; this build reads version {FormatVersion}");
        }

        var headerLength = (long)BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        var payloadLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]);
        var expected = PreambleLength + headerLength + (decimal)payloadLength + HashLength;
        if (headerLength > MaxHeaderLength || expected != bytes.Length)
        {
            throw new CheckpointException(expected > bytes.Length
                ? $"truncated checkpoint: {bytes.Length} bytes where the preamble announces {expected}"
                : $"corrupt checkpoint: {bytes.Length} bytes where the preamble announces {expected}");
        }

        var body = bytes[..^HashLength];
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes[^HashLength..]))
        {
            throw new CheckpointException("corrupt checkpoint: the SHA-256 checksum does not match its contents");
        }

        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(bytes.Slice(PreambleLength, (int)headerLength), JsonOptions)
                ?? throw new CheckpointException("corrupt checkpoint: empty header");
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"corrupt checkpoint header: {e.Message}");
        }

        var payload = bytes.Slice(PreambleLength + (int)headerLength, (int)payloadLength);
        var tensors = new List<(string, Tensor)>(header.Tensors.Length);
        var position = 0;
        foreach (var entry in header.Tensors)
        {
            Shape shape;
            try
            {
                shape = new Shape(entry.Shape);
            }
            catch (ArgumentException e)
            {
                throw new CheckpointException($"corrupt checkpoint: tensor '{entry.Name}': {e.Message}");
            }

            var count = shape.Count * sizeof(float);
            if (position + count > payload.Length)
            {
                throw new CheckpointException($"corrupt checkpoint: tensor '{entry.Name}' {shape} runs past the payload");
            }

            var values = new float[shape.Count];
            payload.Slice(position, count).CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            tensors.Add((entry.Name, new Tensor(values, shape)));
            position += count;
        }

        if (position != payload.Length)
        {
            throw new CheckpointException($"corrupt checkpoint: the tensors take {position} of the payload's {payload.Length} bytes");
        }

        var info = new CheckpointInfo
        {
            Architecture = header.Architecture,
            Step = header.Step,
            Config = header.Config,
            Metrics = header.Metrics ?? [],
        };
        return new CheckpointContents(info, tensors);
    }

    /// <summary>
    /// Reads a checkpoint and copies its tensors into <paramref name="into"/> by name. Refuses (with
    /// <see cref="CheckpointException"/>, nothing copied) a file of another architecture, one that lacks a tensor, or
    /// one whose tensor has another shape. Tensors of the file that are not asked for (optimizer state) are ignored.
    /// </summary>
    public static CheckpointInfo Load(Stream stream, string architecture, IEnumerable<(string Name, Tensor Value)> into) =>
        Load(Read(stream), architecture, into);

    /// <summary>Copies the tensors of checkpoint <paramref name="contents"/> already read into <paramref name="into"/>, checked as above.</summary>
    public static CheckpointInfo Load(CheckpointContents contents, string architecture, IEnumerable<(string Name, Tensor Value)> into)
    {
        ArgumentNullException.ThrowIfNull(contents);
        if (contents.Info.Architecture != architecture)
        {
            throw new CheckpointException($"checkpoint architecture '{contents.Info.Architecture}' does not match the model's '{architecture}'");
        }

        var byName = contents.Tensors.ToDictionary(t => t.Name, t => t.Value);
        var targets = into.ToList();
        foreach (var (name, target) in targets)
        {
            if (!byName.TryGetValue(name, out var stored))
            {
                throw new CheckpointException($"checkpoint has no tensor '{name}' ({architecture} expects it)");
            }

            if (stored.Shape != target.Shape)
            {
                throw new CheckpointException($"checkpoint tensor '{name}' has shape {stored.Shape}; the model expects {target.Shape}");
            }
        }

        foreach (var (name, target) in targets)
        {
            byName[name].Span.CopyTo(target.Span);
        }

        return contents.Info;
    }

    /// <summary>Loads into parameters by their names; see <see cref="Load(Stream, string, IEnumerable{ValueTuple{string, Tensor}})"/>.</summary>
    public static CheckpointInfo Load(Stream stream, string architecture, IEnumerable<Parameter> parameters) =>
        Load(stream, architecture, parameters.Select(p => (p.Name, p.Value)));

    // The payload is copied as the machine stores floats; a big-endian machine would have to swap bytes.
    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("checkpoints are read and written on little-endian machines only");
        }
    }

    private sealed record TensorEntry(string Name, int[] Shape);

    private sealed record Header(string Architecture, long Step, JsonObject? Config, Dictionary<string, double>? Metrics, TensorEntry[] Tensors);
}
