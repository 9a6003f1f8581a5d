using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace Mesh.Runtime.Dapr;

/// <summary>The attributes and the unwrapped data of one CloudEvent delivered by daprd.</summary>
internal sealed record CloudEvent(string Id, string? Topic, string? Source, DateTimeOffset? Time, ReadOnlyMemory<byte> Data);

/// <summary>
/// Unwraps a CloudEvent the way Dapr.AspNetCore's <c>UseCloudEvents()</c> does (§3), so a handler sees the same bytes
/// whichever runtime or SDK delivered the event.
/// </summary>
internal static class CloudEventReader
{
    public static bool TryRead(ReadOnlySpan<byte> body, Encoding? charset, [NotNullWhen(true)] out CloudEvent? cloudEvent, [NotNullWhen(false)] out string? error)
    {
        cloudEvent = null;
        byte[] utf8 = charset is null || charset.CodePage == Encoding.UTF8.CodePage ? body.ToArray() : Encoding.UTF8.GetBytes(charset.GetString(body));
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8);
        }
        catch (JsonException e)
        {
            error = $"The body is not JSON: {e.Message}";
            return false;
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = "The body is not a JSON object.";
                return false;
            }

            // Go's encoding/json matches keys case-insensitively, and so does the SDK for data/data_base64 (§0, §3).
            string? id = null, topic = null, source = null, time = null, dataContentType = null;
            JsonElement? data = null, dataBase64 = null;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                switch (p.Name.ToUpperInvariant())
                {
                    case "ID": id = StringOrNull(p.Value); break;
                    case "TOPIC": topic = StringOrNull(p.Value); break;
                    case "SOURCE": source = StringOrNull(p.Value); break;
                    case "TIME": time = StringOrNull(p.Value); break;
                    case "DATACONTENTTYPE": dataContentType = StringOrNull(p.Value); break;
                    case "DATA": data = p.Value; break;
                    case "DATA_BASE64": dataBase64 = p.Value; break;
                }
            }

            if (string.IsNullOrEmpty(id))
            {
                error = "The CloudEvent has no 'id'.";
                return false;
            }

            if (data is not null && dataBase64 is not null)
            {
                error = "The CloudEvent has both 'data' and 'data_base64'.";
                return false;
            }

            byte[] payload;
            if (dataBase64 is { } b64)
            {
                if (b64.ValueKind != JsonValueKind.String || !b64.TryGetBytesFromBase64(out var bytes))
                {
                    error = "The CloudEvent's 'data_base64' is not a base64 string.";
                    return false;
                }

                payload = bytes;
            }
            else if (data is { } d)
            {
                // JSON data (or any non-string) is passed on as JSON. A string whose content type is not JSON is the
                // text itself, unquoted: that is how daprd wraps a text/plain publish of a JSON body (§1.3, §3).
                payload = d.ValueKind == JsonValueKind.String && !IsJson(dataContentType)
                    ? Encoding.UTF8.GetBytes(d.GetString()!)
                    : JsonMarshal.GetRawUtf8Value(d).ToArray();
            }
            else
            {
                payload = [];
            }

            cloudEvent = new CloudEvent(id, topic, source, ParseTime(time), payload);
            error = null;
            return true;
        }
    }

    private static string? StringOrNull(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    // An absent datacontenttype means JSON (§3).
    private static bool IsJson(string? contentType)
    {
        if (contentType is null)
        {
            return true;
        }

        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            return false;
        }

        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static DateTimeOffset? ParseTime(string? time) =>
        DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}
