using System.Text.Json;
using Mesh.Contracts;
using Mesh.Router.Features;

namespace Mesh.Router.Api;

/// <summary>The documented limits of the public API (docs/api.md). Each returns null when valid, else errors by field.</summary>
public static class RankRequestValidation
{
    public const int MaxIdLength = 256;

    /// <summary>The request's fields; with <paramref name="features"/>, the kinds of its configured features' values too.</summary>
    public static Dictionary<string, string[]>? Validate(RankRequest request, FeatureFilter? features = null)
    {
        var errors = new Errors();
        if (features is not null)
        {
            foreach (var (name, message) in features.Errors(request.Context?.Features, FeatureSide.Context))
            {
                errors.Add($"context.features.{name}", message);
            }

            for (var i = 0; i < (request.Candidates?.Count ?? 0); i++)
            {
                foreach (var (name, message) in features.Errors(request.Candidates![i]?.Features, FeatureSide.Candidate))
                {
                    errors.Add($"candidates[{i}].features.{name}", message);
                }
            }
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

            if (value.Length > MaxIdLength)
            {
                Add(field, $"{field} is longer than {MaxIdLength} characters.");
                return false;
            }

            return true;
        }
    }
}
