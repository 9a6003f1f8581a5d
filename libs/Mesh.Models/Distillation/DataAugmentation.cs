using Mesh.Models.Features;

namespace Mesh.Models.Distillation;

/// <summary>
/// ExFM's data augmentation (DAS): joins the foundation model's prediction ŷ_F to the training rows of any number of
/// students, running the foundation model once per unique example however many students train on it (1:N). An example
/// is named by a key the caller gives per candidate (an impression id); its ŷ_F is kept for the last
/// <see cref="Window"/> unique examples, the span in which the students' rows of one example arrive (the label-delay
/// window), and the oldest is forgotten first. Not thread-safe: one caller at a time.
/// </summary>
public sealed class DataAugmentation
{
    private readonly Dictionary<string, float> _predictions = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    /// <param name="teacher">The foundation model; null until one is published (rows get NaN: no teacher).</param>
    /// <param name="window">Unique examples whose ŷ_F is kept. Default 65,536.</param>
    public DataAugmentation(IFoundationTeacher? teacher, int window = 1 << 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        Teacher = teacher;
        Window = window;
    }

    /// <summary>The foundation model that new examples are run through; replace it when a newer version is published.</summary>
    public IFoundationTeacher? Teacher { get; set; }

    /// <summary>Unique examples whose ŷ_F is kept.</summary>
    public int Window { get; }

    /// <summary>Examples the foundation model was run on (its compute, in candidates).</summary>
    public long TeacherExamples { get; private set; }

    /// <summary>Calls to the foundation model (one per <see cref="Join"/> that had an unseen example).</summary>
    public long TeacherCalls { get; private set; }

    /// <summary>Rows joined, over all students.</summary>
    public long JoinedRows { get; private set; }

    /// <summary>
    /// ŷ_F (N) for the candidates of <paramref name="requests"/>, in order; <paramref name="keys"/> names each candidate's
    /// example (N). Runs the teacher once, on the candidates whose key it has not seen (within the window); NaN for
    /// every row while there is no teacher.
    /// </summary>
    public float[] Join(IReadOnlyList<RankingInput> requests, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(keys);
        var n = requests.Sum(r => r.Ads.Count);
        if (keys.Count != n)
        {
            throw new ArgumentException($"{keys.Count} keys for {n} candidates", nameof(keys));
        }

        var joined = new float[n];
        JoinedRows += n;
        if (Teacher is not { } teacher)
        {
            Array.Fill(joined, float.NaN);
            return joined;
        }

        // The unseen candidates, regrouped under their requests: one teacher call for all of them.
        var unseen = new List<RankingInput>();
        var unseenRows = new List<int>();
        var pending = new HashSet<string>(StringComparer.Ordinal);
        var row = 0;
        foreach (var request in requests)
        {
            List<AdInput>? ads = null;
            foreach (var ad in request.Ads)
            {
                var key = keys[row];
                if (!_predictions.ContainsKey(key) && pending.Add(key))
                {
                    (ads ??= []).Add(ad);
                    unseenRows.Add(row);
                }

                row++;
            }

            if (ads is not null)
            {
                unseen.Add(request with { Ads = ads });
            }
        }

        if (unseenRows.Count > 0)
        {
            var predicted = new float[unseenRows.Count];
            teacher.Predict(unseen, predicted);
            TeacherCalls++;
            TeacherExamples += unseenRows.Count;
            for (var i = 0; i < unseenRows.Count; i++)
            {
                Remember(keys[unseenRows[i]], predicted[i]);
            }
        }

        for (var i = 0; i < n; i++)
        {
            joined[i] = _predictions.TryGetValue(keys[i], out var p) ? p : float.NaN;
        }

        return joined;
    }

    private void Remember(string key, float prediction)
    {
        _predictions[key] = prediction;
        _order.Enqueue(key);
        while (_order.Count > Window)
        {
            _predictions.Remove(_order.Dequeue());
        }
    }
}
