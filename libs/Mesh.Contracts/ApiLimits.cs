namespace Mesh.Contracts;

/// <summary>
/// The limits of the public API on every field that is stored or carried (docs/api.md, "Limits"). A request that
/// breaks one is refused with a 400 naming the field, so no value can make a user's state, an impression or a
/// request to the ranker grow without bound: with these, a user's activity log (its newest
/// <c>UserModel:HistoryLength</c> events) is at most a few kilobytes, and an impression's features a few tens.
/// </summary>
public static class ApiLimits
{
    /// <summary>Characters of any id: <c>userId</c>, <c>adId</c>, <c>itemId</c>, <c>impressionId</c>.</summary>
    public const int MaxIdLength = 256;

    /// <summary>Characters of a category (candidates and user events); categories are a small shared vocabulary.</summary>
    public const int MaxCategoryLength = 128;

    /// <summary>Characters of <c>context.surface</c> and <c>context.device</c>.</summary>
    public const int MaxContextValueLength = 64;

    /// <summary>Entries of one <c>features</c> object (configured or not: every entry is read).</summary>
    public const int MaxFeatures = 64;

    /// <summary>Characters of a feature's name (configured or not).</summary>
    public const int MaxFeatureNameLength = 128;

    /// <summary>Characters of one categorical value of a configured feature (a string, or a number read as its text).</summary>
    public const int MaxFeatureValueLength = 256;

    /// <summary>Values of one categorical list of a configured feature, before the first <c>MaxValues</c> are kept.</summary>
    public const int MaxFeatureValues = 64;
}
