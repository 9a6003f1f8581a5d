namespace Mesh.Models;

/// <summary>
/// Streaming log loss and normalized entropy: NE = mean log loss / H(mean label), lower is better; 1 is what
/// predicting the observed click rate scores. Predictions are clamped to [1e-7, 1 - 1e-7].
/// </summary>
public sealed class NormalizedEntropy
{
    private double _logLoss;
    private long _count;
    private long _positives;

    public long Count => _count;
    public long Positives => _positives;

    public void Add(double prediction, bool label)
    {
        var p = Math.Clamp(prediction, 1e-7, 1 - 1e-7);
        _logLoss -= label ? Math.Log(p) : Math.Log(1 - p);
        _count++;
        if (label)
        {
            _positives++;
        }
    }

    public double MeanLogLoss => _count == 0 ? double.NaN : _logLoss / _count;

    /// <summary>NaN until there is at least one positive and one negative.</summary>
    public double Value
    {
        get
        {
            if (_count == 0 || _positives == 0 || _positives == _count)
            {
                return double.NaN;
            }

            var rate = (double)_positives / _count;
            var entropy = -(rate * Math.Log(rate)) - ((1 - rate) * Math.Log(1 - rate));
            return MeanLogLoss / entropy;
        }
    }
}
