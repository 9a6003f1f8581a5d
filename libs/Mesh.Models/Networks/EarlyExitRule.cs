namespace Mesh.Models.Networks;

/// <summary>
/// The per-candidate exit rule of <see cref="Dhen.ScoreWithEarlyExit"/>. After a layer, within each request, let s_k
/// be the k-th highest predicted click probability among the candidates still running (k = <see cref="Keep"/>, what the
/// stage will keep). A candidate whose prediction is below <see cref="Threshold"/> · s_k cannot plausibly reach the top
/// k and exits with its current score. Threshold 0 never exits; 1 exits everything below the current k-th; a request
/// with at most k candidates left never exits any (they are all in the top k).
/// </summary>
public readonly record struct EarlyExitRule(int Keep, double Threshold)
{
    /// <summary>Positions (into <paramref name="active"/>) of the candidates that go on to the next layer.</summary>
    public int[] Survivors(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> active, ReadOnlySpan<int> requestOf)
    {
        if (Threshold <= 0 || Keep <= 0)
        {
            return Enumerable.Range(0, active.Length).ToArray();
        }

        // Group positions by request (requests are contiguous in a batch, but do not rely on it).
        var byRequest = new Dictionary<int, List<int>>();
        for (var i = 0; i < active.Length; i++)
        {
            var r = requestOf[active[i]];
            if (!byRequest.TryGetValue(r, out var list))
            {
                byRequest[r] = list = [];
            }

            list.Add(i);
        }

        var survivors = new List<int>(active.Length);
        foreach (var positions in byRequest.Values)
        {
            if (positions.Count <= Keep)
            {
                survivors.AddRange(positions);
                continue;
            }

            var sorted = new float[positions.Count];
            for (var j = 0; j < positions.Count; j++)
            {
                sorted[j] = probabilities[positions[j]];
            }

            Array.Sort(sorted);
            var bar = Threshold * sorted[^Keep];
            foreach (var i in positions)
            {
                if (probabilities[i] >= bar)
                {
                    survivors.Add(i);
                }
            }
        }

        survivors.Sort();
        return [.. survivors];
    }
}
