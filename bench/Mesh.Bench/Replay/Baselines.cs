using Mesh.Contracts;
namespace Mesh.Bench.Replay;

/// <summary>
/// A model that learns online from the replayed stream. The replay asks it for every impression of a request first
/// and only then shows it their labels (progressive validation: no prediction has seen its own label).
/// </summary>
public interface IOnlinePredictor
{
    /// <summary>Row name in the replay's table.</summary>
    string Name { get; }

    /// <summary>The predicted click probability of <paramref name="impression"/>, from what was learnt so far.</summary>
    double Predict(ReplayRequest request, LogImpression impression);

    /// <summary>Learns from <paramref name="impression"/>'s label.</summary>
    void Learn(ReplayRequest request, LogImpression impression);
}

/// <summary>The running click rate, (clicks + 0.5) / (impressions + 1) (a Beta(0.5, 0.5) prior): 0.5 before any label.</summary>
public sealed class BaseRatePredictor : IOnlinePredictor
{
    private long _count;
    private long _clicks;

    public string Name => "base rate";

    public double Rate => (_clicks + 0.5) / (_count + 1.0);

    public double Predict(ReplayRequest request, LogImpression impression) => Rate;

    public void Learn(ReplayRequest request, LogImpression impression)
    {
        ArgumentNullException.ThrowIfNull(impression);
        _count++;
        _clicks += impression.Click ? 1 : 0;
    }
}

/// <summary>
/// Each item's own click rate with a Beta prior centred on the running base rate:
/// p = (clicks_i + s·m) / (impressions_i + s), m = <see cref="BaseRatePredictor.Rate"/>, s = <see cref="PriorStrength"/>
/// (default 20 pseudo-impressions). A new item is predicted at the base rate.
/// </summary>
public sealed class ItemRatePredictor(double priorStrength = 20) : IOnlinePredictor
{
    private readonly BaseRatePredictor _base = new();
    private readonly Dictionary<string, (long Count, long Clicks)> _items = new(StringComparer.Ordinal);

    public string Name => "item rate";

    public double PriorStrength { get; } = priorStrength > 0 ? priorStrength : throw new ArgumentOutOfRangeException(nameof(priorStrength));

    public double Predict(ReplayRequest request, LogImpression impression)
    {
        ArgumentNullException.ThrowIfNull(impression);
        var (count, clicks) = _items.GetValueOrDefault(impression.ItemId);
        return (clicks + (PriorStrength * _base.Rate)) / (count + PriorStrength);
    }

    public void Learn(ReplayRequest request, LogImpression impression)
    {
        ArgumentNullException.ThrowIfNull(impression);
        _base.Learn(request, impression);
        var (count, clicks) = _items.GetValueOrDefault(impression.ItemId);
        _items[impression.ItemId] = (count + 1, clicks + (impression.Click ? 1 : 0));
    }
}

/// <summary>
/// Online logistic regression trained by FTRL-Proximal (McMahan et al., "Ad click prediction: a view from the trenches",
/// KDD 2013), one example per impression in replay order, on hashed features (2^<see cref="Bits"/> weights, 64-bit FNV-1a
/// of the feature's text mixed with <see cref="Seed"/>, then SplitMix64's finalizer): a bias; the user, the item and the category; every categorical
/// value of every context and candidate feature; every numeric feature as its value (after the mapping's transform);
/// and the crosses user × item and (each categorical value of each context feature) × item. No context × candidate
/// feature crosses: that is what a model with learnt feature interactions should add. The logit is offset by that of
/// the running base rate (<see cref="BaseRatePredictor"/>), so that the weights start from the observed rate and not
/// from 0.5 (without it, the hashed bias alone takes thousands of impressions to reach a 1% click rate).
/// Defaults: α 0.05, β 1, L1 0.5, L2 1 (per-coordinate learning rate α / (β + √Σg²)).
/// </summary>
public sealed class FtrlLogisticPredictor : IOnlinePredictor
{
    private readonly double _alpha;
    private readonly double _beta;
    private readonly double _l1;
    private readonly double _l2;
    private readonly double[] _z;
    private readonly double[] _n;
    private readonly IReadOnlyDictionary<string, FeatureTransform> _transforms;
    private readonly List<(int Index, double Value)> _features = [];
    private readonly BaseRatePredictor _base = new();
    private readonly bool _featureCrosses;

    /// <param name="transforms">The numeric features' transforms, by feature name (absent: none).</param>
    /// <param name="seed">Mixed into every feature's hash.</param>
    /// <param name="bits">log2 of the number of weights, 4 to 28.</param>
    /// <param name="alpha">FTRL's α: the learning-rate scale.</param>
    /// <param name="beta">FTRL's β: smooths the first steps of a coordinate.</param>
    /// <param name="l1">L1 strength: weights of rare features stay exactly 0.</param>
    /// <param name="l2">L2 strength.</param>
    /// <param name="featureCrosses">Also cross every categorical context value with every categorical candidate value
    /// (not part of the baseline: a measure of what the crosses are worth on a log).</param>
    public FtrlLogisticPredictor(
        IReadOnlyDictionary<string, FeatureTransform> transforms, int seed = 1, int bits = 20, double alpha = 0.05, double beta = 1, double l1 = 0.5, double l2 = 1, bool featureCrosses = false)
    {
        _featureCrosses = featureCrosses;
        ArgumentOutOfRangeException.ThrowIfLessThan(bits, 4);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bits, 28);
        _transforms = transforms;
        Seed = seed;
        Bits = bits;
        (_alpha, _beta, _l1, _l2) = (alpha, beta, l1, l2);
        _z = new double[1 << bits];
        _n = new double[1 << bits];
    }

    public string Name => "online LR";

    public int Seed { get; }

    public int Bits { get; }

    public double Predict(ReplayRequest request, LogImpression impression)
    {
        Extract(request, impression);
        return Sigmoid(Offset() + Dot());
    }

    public void Learn(ReplayRequest request, LogImpression impression)
    {
        ArgumentNullException.ThrowIfNull(impression);
        Extract(request, impression);
        var p = Sigmoid(Offset() + Dot());
        var y = impression.Click ? 1.0 : 0.0;
        _base.Learn(request, impression);
        foreach (var (i, x) in _features)
        {
            var g = (p - y) * x;
            var w = Weight(i);
            var sigma = (Math.Sqrt(_n[i] + (g * g)) - Math.Sqrt(_n[i])) / _alpha;
            _z[i] += g - (sigma * w);
            _n[i] += g * g;
        }
    }

    /// <summary>The features of one impression as (hashed index, value) into a reused list.</summary>
    private void Extract(ReplayRequest request, LogImpression impression)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(impression);
        _features.Clear();
        Add("bias", 1);
        Add("u\u001f" + impression.UserId, 1);
        Add("i\u001f" + impression.ItemId, 1);
        Add("c\u001f" + impression.Category, 1);
        Add("ui\u001f" + impression.UserId + "\u001f" + impression.ItemId, 1);
        foreach (var (name, value) in request.Context)
        {
            AddFeature(name, value, (v, weight) => Add("fi\u001f" + name + "\u001f" + v + "\u001f" + impression.ItemId, weight));
        }

        foreach (var (name, value) in impression.Candidate)
        {
            AddFeature(name, value, !_featureCrosses ? null : (v, weight) =>
            {
                foreach (var (contextName, contextValue) in request.Context.Where(c => !c.Value.IsNumeric))
                {
                    foreach (var c in contextValue.Values!)
                    {
                        Add("ff\u001f" + contextName + "\u001f" + c + "\u001f" + name + "\u001f" + v, weight / contextValue.Values.Count);
                    }
                }
            });
        }
    }

    /// <summary>One feature: a numeric value as itself (transformed), each categorical value at 1/count, and its crosses.</summary>
    private void AddFeature(string name, FeatureValue value, Action<string, double>? cross)
    {
        if (value.IsNumeric)
        {
            Add("n\u001f" + name, Transform(name, value.Number));
            return;
        }

        var weight = 1.0 / value.Values!.Count;
        foreach (var v in value.Values)
        {
            Add("f\u001f" + name + "\u001f" + v, weight);
            cross?.Invoke(v, weight);
        }
    }

    private double Offset()
    {
        var rate = _base.Rate;
        return Math.Log(rate / (1 - rate));
    }

    private double Transform(string name, double x) =>
        _transforms.GetValueOrDefault(name) == FeatureTransform.Log1p ? Math.Sign(x) * Math.Log(1 + Math.Abs(x)) : x; // as the mesh reads it

    private void Add(string feature, double value) => _features.Add((Index(feature), value));

    private int Index(string feature)
    {
        // FNV-1a, 64-bit, over the seed's bytes and then the UTF-16 code units.
        var h = 14695981039346656037UL;
        h = unchecked((h ^ (uint)Seed) * 1099511628211UL);
        foreach (var c in feature)
        {
            h = unchecked((h ^ c) * 1099511628211UL);
        }

        // FNV's last multiply leaves the top bits nearly blind to the last character: mix (SplitMix64's finalizer) first.
        h = unchecked((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL);
        h = unchecked((h ^ (h >> 27)) * 0x94D049BB133111EBUL);
        h ^= h >> 31;
        return (int)(h >> (64 - Bits));
    }

    private double Dot()
    {
        var sum = 0.0;
        foreach (var (i, x) in _features)
        {
            sum += Weight(i) * x;
        }

        return sum;
    }

    private double Weight(int i)
    {
        var z = _z[i];
        return Math.Abs(z) <= _l1 ? 0 : -(z - (Math.Sign(z) * _l1)) / (((_beta + Math.Sqrt(_n[i])) / _alpha) + _l2);
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
}
