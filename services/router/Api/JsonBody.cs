using System.Buffers;
using System.Text.Json;
using Mesh.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Mesh.Router.Api;

/// <summary>
/// Reads a JSON request body with a size limit and turns every way it can be wrong into field-level errors, so a bad
/// request gets a 400 naming the field instead of a 500 or a bare 400 from model binding, and a body over the limit a
/// 413 (<see cref="TooLargeProblem"/>), read no further than the limit.
/// </summary>
public static class JsonBody
{
    /// <summary>The body as <typeparamref name="T"/>, or errors by field; <c>TooLarge</c> when the errors are that the body is over <paramref name="maxBytes"/>.</summary>
    public static async Task<(T? Value, Dictionary<string, string[]>? Errors, bool TooLarge)> ReadAsync<T>(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes), true);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, (int)(request.ContentLength ?? 16 * 1024) + 1));
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > maxBytes)
                    {
                        return (null, TooLarge(maxBytes), true);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            if (length > maxBytes)
            {
                return (null, TooLarge(maxBytes), true);
            }

            if (length == 0)
            {
                return (null, Error("body", "A JSON body is required."), false);
            }

            try
            {
                var value = JsonSerializer.Deserialize<T>(buffer.AsSpan(0, length), MeshJson.Options);
                return value is null ? (null, Error("body", "A JSON object is required."), false) : (value, null, false);
            }
            catch (JsonException e)
            {
                return (null, Error(FieldOf(e.Path), Describe(e)), false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static Dictionary<string, string[]> Error(string field, string message) => new(StringComparer.Ordinal) { [field] = [message] };

    /// <summary>413 with the same problem-details shape as a 400 (<c>errors.body</c>), so a client reads both alike.</summary>
    public static ProblemHttpResult TooLargeProblem(Dictionary<string, string[]> errors, string title) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = StatusCodes.Status413PayloadTooLarge, Title = title });

    private static Dictionary<string, string[]> TooLarge(int maxBytes) => Error("body", $"The body is larger than {maxBytes} bytes.");

    // "$.candidates[2].adId" -> "candidates[2].adId"; a syntax error before any property has no path.
    private static string FieldOf(string? path) => string.IsNullOrEmpty(path) || path == "$" ? "body" : path.TrimStart('$', '.');

    private static string Describe(JsonException e) => e.Path is null or "$"
        ? "The body is not valid JSON."
        : $"Invalid value: {e.Message.Split(" Path:", 2)[0]}";
}
