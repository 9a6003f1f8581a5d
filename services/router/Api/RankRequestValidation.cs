using System.Text.Json;
using Mesh.Contracts;
using Mesh.Router.Features;

namespace Mesh.Router.Api;

/// <summary>The documented limits of the public API (docs/api.md, <see cref="ApiLimits"/>). Each returns null when valid, else errors by field.</summary>
public static class RankRequestValidation
{
    /// <summary>The request's fields; with <paramref name="features"/>, the kinds of its configured features' values too.</summary>
    public static Dictionary<string, string[]>? Validate(RankRequest request, FeatureFilter? features = null)
    {
        var errors = new Errors();
        errors.Features("context.features", request.Context?.Features, FeatureSide.Context, features);
        if (request.Context is { } context)
        {
            errors.Limit("context.surface", context.Surface, ApiLimits.MaxContextValueLength, required: true);
            errors.Limit("context.device", context.Device, ApiLimits.MaxContextValueLength, required: true);
        }

        for (var i = 0; i < (request.Candidates?.Count ?? 0); i++)
        {
            errors.Features($"candidates[{i}].features", request.Candidates![i]?.Features, FeatureSide.Candidate, features);
            errors.Limit($"candidates[{i}].category", request.Candidates[i]?.Category, ApiLimits.MaxCategoryLength);
        }

        errors.RequireId("userId", request.UserId);
        if (request.Candidates is null || request.Candidates.Count == 0)
        {
            errors.Add("candidates", "At least one candidate is required.");
        }
        else if (request.Candidates.Count > RankRequest.MaxCandidates)
        {
            errors.Add("candidates", $"At most {RankRequest.MaxCandidates} candidates are allowed; got {request.Candidates.Count}.");
        }
        else
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < request.Candidates.Count; i++)
            {
                var adId = request.Candidates[i]?.AdId;
                if (errors.RequireId($"candidates[{i}].adId", adId) && !seen.Add(adId!))
                {
                    errors.Add($"candidates[{i}].adId", $"Duplicate adId '{adId}'.");
                }
            }
        }

        if (request.K is < 1 or > RankRequest.MaxK)
        {
            errors.Add("k", $"k must be between 1 and {RankRequest.MaxK}; got {request.K}.");
        }

        if (request.BudgetMs is < 1 or > RankRequest.MaxBudgetMs)
        {
            errors.Add("budgetMs", $"budgetMs must be between 1 and {RankRequest.MaxBudgetMs}; got {request.BudgetMs}.");
        }

        if (request.ExitThreshold is { } exit && exit is not (>= 0 and <= 1))
        {
            errors.Add("exitThreshold", $"exitThreshold must be between 0 and 1; got {exit}.");
        }

        if (request.Context is { Hour: < 0 or > 23 })
        {
            errors.Add("context.hour", $"hour must be between 0 and 23; got {request.Context.Hour}.");
        }

        return errors.Result;
    }

    public static Dictionary<string, string[]>? Validate(UserEventRequest request)
    {
        var errors = new Errors();
        errors.RequireId("userId", request.UserId);
        errors.RequireId("itemId", request.ItemId);
        errors.Limit("category", request.Category, ApiLimits.MaxCategoryLength);
        errors.RequireDefined("kind", request.Kind);
        return errors.Result;
    }

    public static Dictionary<string, string[]>? Validate(FeedbackRequest request)
    {
        var errors = new Errors();
        errors.RequireId("impressionId", request.ImpressionId);
        errors.RequireId("userId", request.UserId);
        errors.RequireId("adId", request.AdId);
        errors.RequireDefined("kind", request.Kind);
        return errors.Result;
    }

    private sealed class Errors
    {
        private Dictionary<string, string[]>? _errors;

        public Dictionary<string, string[]>? Result => _errors;

        public void Add(string field, string message)
        {
            _errors ??= new Dictionary<string, string[]>(StringComparer.Ordinal);
            _errors[field] = _errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];
        }

        /// <summary>A name is checked by the JSON reader; a number (which it also takes for an enum) must name a member.</summary>
        public void RequireDefined<TEnum>(string field, TEnum value)
            where TEnum : struct, Enum
        {
            if (!Enum.IsDefined(value))
            {
                Add(field, $"{field} must be one of {string.Join(", ", Enum.GetNames<TEnum>().Select(JsonNamingPolicy.CamelCase.ConvertName))}; got {value}.");
            }
        }

        /// <summary>True when <paramref name="value"/> is a usable id.</summary>
        public bool RequireId(string field, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                Add(field, $"{field} is required.");
                return false;
            }

            if (value.Length > ApiLimits.MaxIdLength)
            {
                Add(field, $"{field} is longer than {ApiLimits.MaxIdLength} characters.");
                return false;
            }

            return true;
        }

        /// <summary>An optional text (a required one when <paramref name="required"/>: JSON null is then an error) of at most <paramref name="max"/> characters.</summary>
        public void Limit(string field, string? value, int max, bool required = false)
        {
            if (value is null)
            {
                if (required)
                {
                    Add(field, $"{field} must be a string; leave it out for the default.");
                }
            }
            else if (value.Length > max)
            {
                Add(field, $"{field} is longer than {max} characters.");
            }
        }

        /// <summary>
        /// A <c>features</c> object: at most <see cref="ApiLimits.MaxFeatures"/> entries with names of at most
        /// <see cref="ApiLimits.MaxFeatureNameLength"/> characters, whatever they name; the configured ones of
        /// <paramref name="side"/> also by kind and size (see <see cref="FeatureFilter.Errors"/>).
        /// </summary>
        public void Features(string field, IReadOnlyDictionary<string, JsonElement>? values, FeatureSide side, FeatureFilter? filter)
        {
            if (values is null)
            {
                return;
            }

            if (values.Count > ApiLimits.MaxFeatures)
            {
                Add(field, $"At most {ApiLimits.MaxFeatures} features are allowed; got {values.Count}.");
                return;
            }

            foreach (var name in values.Keys.Where(n => n.Length > ApiLimits.MaxFeatureNameLength))
            {
                Add(field, $"Feature names are at most {ApiLimits.MaxFeatureNameLength} characters; '{name[..32]}...' has {name.Length}.");
            }

            if (filter is not null)
            {
                foreach (var (name, message) in filter.Errors(values, side))
                {
                    Add($"{field}.{name}", message);
                }
            }
        }
    }
}
