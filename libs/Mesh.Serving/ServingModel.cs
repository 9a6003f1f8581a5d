using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Onnx;
using Mesh.Serving.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Serving;

/// <summary>
/// The ranking model version serving now, on ONNX Runtime: one <see cref="OnnxRankingModel"/> per execution target
/// (<see cref="ServingOptions.Targets"/>). A caller takes a <see cref="ModelLease"/> and scores with it; a newer version
/// replaces the current one in one write, and the old one's sessions are disposed when its last lease ends, so a
/// reload never fails a request. Starts with version 0, the untrained model of the configured features, built at
/// start-up: a CUDA target that cannot start stops the service here, unless <see cref="ServingOptions.AllowCpuFallback"/>.
/// A published version encodes the features it was trained with; one that differs from the configuration is logged.
/// </summary>
public sealed class ServingModel : IDisposable
{
    private readonly ServingOptions _options;
    private readonly ILogger<ServingModel> _logger;
    private readonly FeatureSchema _configured;
    private FeatureSchema? _reportedMismatch;
    private ServedVersion _current;
    private long _loads;

    public ServingModel(IOptions<ServingOptions> options, ILogger<ServingModel> logger, IOptions<FeatureSpaceOptions>? features = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
        _configured = features is null ? FeatureSchema.Empty : FeatureSchema.From(features.Value);
        (Targets, _current) = Start(_options.Targets.Count == 0 ? ["cpu"] : _options.Targets);
    }


    /// <summary>The targets the replicas run on, after any fallback: one entry per configured target.</summary>
    public IReadOnlyList<TargetStatus> Targets { get; }

    public long Version => Volatile.Read(ref _current).Version;

    /// <summary>Versions installed since start.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>The version serving now, held until the lease is disposed; <paramref name="replica"/> picks the target (modulo their number).</summary>
    public ModelLease Acquire(int replica = 0)
    {
        while (true)
        {
            var version = Volatile.Read(ref _current);
            if (version.TryAddLease())
            {
                return new ModelLease(version, version.Replica(replica));
            }
        }
    }

    /// <summary>Builds, warms and installs <paramref name="graphs"/> as <paramref name="version"/> unless a newer one serves; throws <see cref="ModelRefusedException"/>.</summary>
    public bool TryInstall(long version, IReadOnlyDictionary<string, byte[]> graphs)
    {
        if (version <= Version)
        {
            return false;
        }

        return Install(Build(version, graphs));
    }

    /// <summary>Installs the engine's model, exported (tests, and checkpoints from a trainer before ONNX).</summary>
    public bool TryInstall(RankingModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Version > Version && Install(Build(model));
    }

    public void Dispose() => Volatile.Read(ref _current).Retire();

    private bool Install(ServedVersion next)
    {
        while (true)
        {
            var seen = Volatile.Read(ref _current);
            if (next.Version <= seen.Version)
            {
                next.Retire();
                return false;
            }

            if (Interlocked.CompareExchange(ref _current, next, seen) == seen)
            {
                seen.Retire();
                Interlocked.Increment(ref _loads);
                ReportFeatures(next);
                return true;
            }
        }
    }

    // Serving encodes what the version knows; a difference from the configuration is worth one line per schema seen,
    // not one per version: the router validates against the configuration, so a configured feature this version does
    // not know is accepted and ignored, and one it knows but the configuration dropped is never sent.
    private void ReportFeatures(ServedVersion installed)
    {
        var model = installed.Replicas[0];
        if (!model.Graphs.Any(g => g != OnnxNames.UserTower))
        {
            return; // the user tower reads no configured features
        }

        if (model.Features.Equals(_configured) || model.Features.Equals(Volatile.Read(ref _reportedMismatch)))
        {
            return;
        }

        Volatile.Write(ref _reportedMismatch, model.Features);
        _logger.LogWarning(
            "Ranking model v{Version} reads the features it was trained with ({ModelFeatures}), not the configured ones ({ConfiguredFeatures}); serving encodes the model's",
            installed.Version,
            model.Features,
            _configured);
    }

    // Only the graphs this process serves are exported: user-model alone needs no tier, the ranker no user tower.
    private ServedVersion Build(RankingModel model) => Build(model.Version, RankingOnnx.Export(model, _options.Serves));

    private ServedVersion Build(long version, IReadOnlyDictionary<string, byte[]> graphs)
    {
        var replicas = new List<OnnxRankingModel>();
        try
        {
            foreach (var target in Targets)
            {
                replicas.Add(OnnxRankingModel.Load(version, graphs, target.Running, _options.IntraOpThreads));
            }

            return new ServedVersion(version, [.. replicas]);
        }
        catch
        {
            replicas.ForEach(r => r.Dispose());
            throw;
        }
    }

    // Version 0 on every target: a target starts when the real graphs load and warm on it (a CUDA provider that loads
    // but cannot use its GPU fails here too). A CUDA target that fails falls back to the CPU when allowed.
    private (TargetStatus[] Targets, ServedVersion Initial) Start(IReadOnlyList<string> configured)
    {
        var initial = RankingOnnx.Export(RankingModel.CreateInitial(features: _configured), _options.Serves);
        var targets = new List<TargetStatus>();
        var replicas = new List<OnnxRankingModel>();
        try
        {
            foreach (var name in configured)
            {
                var target = ExecutionTarget.Parse(name);
                try
                {
                    replicas.Add(OnnxRankingModel.Load(0, initial, target, _options.IntraOpThreads));
                    targets.Add(new TargetStatus(name, target, null));
                }
                catch (ModelRefusedException e) when (target.IsCuda)
                {
                    if (!_options.AllowCpuFallback)
                    {
                        throw new InvalidOperationException(
                            $"execution target {name} cannot start ({e.Message}). Install the NVIDIA driver and CUDA 13 and build with -p:OnnxRuntimeGpu=true, "
                            + "remove it from Ranker:Devices, or allow the CPU fallback (Ranker:AllowCpuFallback=true).", e);
                    }

                    _logger.LogWarning(e, "Execution target {Target} cannot start; serving its share on cpu instead", name);
                    replicas.Add(OnnxRankingModel.Load(0, initial, ExecutionTarget.Cpu, _options.IntraOpThreads));
                    targets.Add(new TargetStatus(name, ExecutionTarget.Cpu, e.Message));
                }
            }

            return ([.. targets], new ServedVersion(0, [.. replicas]));
        }
        catch
        {
            replicas.ForEach(r => r.Dispose());
            throw;
        }
    }

    /// <summary>A configured target and what runs in its place: itself, or the CPU after a fallback (<see cref="FallbackReason"/>).</summary>
    public sealed record TargetStatus(string Configured, ExecutionTarget Running, string? FallbackReason);

    /// <summary>A version's replicas and the leases on them; disposed when retired and no lease is left.</summary>
    internal sealed class ServedVersion(long version, OnnxRankingModel[] replicas)
    {
        // Leases, plus one for being current; the replicas go when it reaches zero.
        private int _references = 1;

        public long Version { get; } = version;

        public OnnxRankingModel[] Replicas { get; } = replicas;

        /// <summary>The replica of target <paramref name="index"/>, modulo the number of targets.</summary>
        public OnnxRankingModel Replica(int index) => Replicas[(int)((uint)index % (uint)Replicas.Length)];

        public bool TryAddLease()
        {
            while (true)
            {
                var seen = Volatile.Read(ref _references);
                if (seen == 0)
                {
                    return false; // retired and released meanwhile: read the new current
                }

                if (Interlocked.CompareExchange(ref _references, seen + 1, seen) == seen)
                {
                    return true;
                }
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
            {
                foreach (var replica in Replicas)
                {
                    replica.Dispose();
                }
            }
        }

        public void Retire() => Release();
    }
}

/// <summary>A hold on one version: its sessions stay alive until this is disposed. Dispose it once.</summary>
public readonly struct ModelLease : IDisposable
{
    private readonly ServingModel.ServedVersion _version;

    internal ModelLease(ServingModel.ServedVersion version, OnnxRankingModel model)
    {
        _version = version;
        Model = model;
    }

    /// <summary>The replica on the target the lease was taken for.</summary>
    public OnnxRankingModel Model { get; }

    public long Version => Model.Version;

    /// <summary>The same version's replica on target <paramref name="index"/> (modulo the number of targets): a worker's own.</summary>
    public OnnxRankingModel Replica(int index) => _version.Replica(index);

    public void Dispose() => _version?.Release();
}
