using System.Text.Json;

namespace Mesh.Contracts;

/// <summary>
/// What a feature's JSON value means, in one place for the router (which validates) and the models (which encode), so
/// both read the same values: a categorical value is a string, a number taken by its text (<c>7</c> reads as
/// <c>"7"</c>, <c>7.0</c> as <c>"7.0"</c>), or an array of those; a numeric value is a finite number. A JSON null is
/// the feature absent.
/// </summary>
public static class FeatureValues
{
    /// <summary>
    /// The categorical values of <paramref name="value"/>, at most <paramref name="maxValues"/> of them, into
    /// <paramref name="values"/>; <paramref name="dropped"/> counts those beyond. False (nothing added) for another kind.
    /// </summary>
    public static bool TryReadCategorical(JsonElement value, int maxValues, List<string> values, out int dropped)
    {
        ArgumentNullException.ThrowIfNull(values);
        dropped = 0;
        switch (value.ValueKind)
        {
            case JsonValueKind.Null or JsonValueKind.Undefined:
                return true;
            case JsonValueKind.String or JsonValueKind.Number:
                if (maxValues >= 1)
                {
                    values.Add(Text(value));
                }
                else
                {
                    dropped = 1;
                }

                return true;
            case JsonValueKind.Array:
                var start = values.Count;
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                    {
                        values.RemoveRange(start, values.Count - start);
                        dropped = 0;
                        return false;
                    }

                    if (values.Count - start < maxValues)
                    {
                        values.Add(Text(item));
                    }
                    else
                    {
                        dropped++;
                    }
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>True when <paramref name="value"/> is a categorical value (see <see cref="TryReadCategorical"/>).</summary>
    public static bool IsCategorical(JsonElement value) =>
        value.ValueKind switch
        {
            JsonValueKind.Null or JsonValueKind.String or JsonValueKind.Number => true,
            JsonValueKind.Array => value.EnumerateArray().All(i => i.ValueKind is JsonValueKind.String or JsonValueKind.Number),
            _ => false,
        };

    /// <summary>
    /// The number of a numeric value: true with <paramref name="number"/> for a finite JSON number; true with null for a
    /// JSON null (absent); false for anything else, a number beyond double's range included.
    /// </summary>
    public static bool TryReadNumeric(JsonElement value, out double? number)
    {
        number = null;
        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return true;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && double.IsFinite(d))
        {
            number = d;
            return true;
        }

        return false;
    }

    private static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
}
