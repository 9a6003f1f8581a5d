namespace Mesh.Dapr;

/// <summary>Which runtime the building blocks use (section <c>MeshRuntime</c>).</summary>
public sealed class MeshRuntimeOptions
{
    /// <summary><see cref="MeshRuntimeKind.Dapr"/> (default for a service) or <see cref="MeshRuntimeKind.Embedded"/>.</summary>
    public MeshRuntimeKind Runtime { get; set; } = MeshRuntimeKind.Dapr;

    /// <summary>Name of the pub/sub component. Default <c>pubsub</c>.</summary>
    public string PubSubName { get; set; } = Contracts.Components.PubSub;
}

public enum MeshRuntimeKind
{
    Dapr,
    Embedded,
}
