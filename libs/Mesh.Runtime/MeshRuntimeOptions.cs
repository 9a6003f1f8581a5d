namespace Mesh.Runtime;

/// <summary>Names the runtimes share (section <c>MeshRuntime</c>).</summary>
public sealed class MeshRuntimeOptions
{
    /// <summary>Name of the pub/sub component. Default <c>pubsub</c>.</summary>
    public string PubSubName { get; set; } = Contracts.Components.PubSub;
}
