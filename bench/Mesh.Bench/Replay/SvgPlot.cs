using System.Globalization;
using System.Net;
using System.Text;

namespace Mesh.Bench.Replay;

/// <summary>A line chart of rolling NE over the stream as a standalone SVG document (no library: a few paths and labels).</summary>
public static class SvgPlot
{
    private const int Width = 900;
    private const int Height = 480;
    private const int Left = 70;
    private const int Right = 190;
    private const int Top = 40;
    private const int Bottom = 50;

    // Distinguishable in print and for common colour blindness (Okabe-Ito).
    private static readonly string[] Colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#555555", "#D55E00"];

    /// <param name="title">Shown above the chart.</param>
    /// <param name="series">By name, (impressions so far, NE) points; NaN points leave a gap.</param>
    /// <param name="total">Impressions in the stream (the x axis' end).</param>
    public static string Render(string title, IReadOnlyList<(string Name, IReadOnlyList<(int End, double Ne)> Points)> series, int total)
    {
        ArgumentNullException.ThrowIfNull(series);
        var values = series.SelectMany(s => s.Points.Select(p => p.Ne)).Where(double.IsFinite).ToList();
        // The y range covers the data and always 1 (the base rate's NE), in steps of 0.05.
        var yMin = Math.Floor(Math.Min(values.DefaultIfEmpty(0.9).Min(), 1.0) * 20) / 20;
        var yMax = Math.Ceiling(Math.Max(values.DefaultIfEmpty(1.1).Max(), 1.0) * 20) / 20;
        if (yMax - yMin < 0.1)
        {
            yMax = yMin + 0.1;
        }

        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        string X(double end) => F(Left + (plotWidth * end / Math.Max(1, total)));
        string Y(double ne) => F(Top + (plotHeight * (yMax - Math.Clamp(ne, yMin, yMax)) / (yMax - yMin)));

        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" viewBox="0 0 {Width} {Height}" font-family="sans-serif" font-size="12">""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect width="{Width}" height="{Height}" fill="white"/>""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{Left}" y="22" font-size="15">{WebUtility.HtmlEncode(title)}</text>""");

        var step = (yMax - yMin) > 0.6 ? 0.1 : 0.05;
        for (var y = yMin; y <= yMax + 1e-9; y += step)
        {
            var dash = Math.Abs(y - 1.0) < 1e-9 ? "" : """ stroke-dasharray="2,3" """;
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{Left}" x2="{Left + plotWidth}" y1="{Y(y)}" y2="{Y(y)}" stroke="#bbbbbb"{dash}/>""");
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{Left - 8}" y="{Y(y)}" text-anchor="end" dominant-baseline="middle">{y.ToString("F2", CultureInfo.InvariantCulture)}</text>""");
        }

        for (var k = 0; k <= 5; k++)
        {
            var end = total * k / 5.0;
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{X(end)}" y="{Top + plotHeight + 18}" text-anchor="middle">{Math.Round(end).ToString("N0", CultureInfo.InvariantCulture)}</text>""");
        }

        svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{Left + (plotWidth / 2)}" y="{Height - 10}" text-anchor="middle">impressions replayed (event-time order)</text>""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<text transform="translate(18,{Top + (plotHeight / 2)}) rotate(-90)" text-anchor="middle">rolling NE (lower is better; 1 = window's base rate)</text>""");
        svg.AppendLine(CultureInfo.InvariantCulture, $"""<rect x="{Left}" y="{Top}" width="{plotWidth}" height="{plotHeight}" fill="none" stroke="#333333"/>""");

        for (var s = 0; s < series.Count; s++)
        {
            var colour = Colours[s % Colours.Length];
            var path = new StringBuilder();
            var pen = false;
            foreach (var (end, ne) in series[s].Points)
            {
                if (!double.IsFinite(ne))
                {
                    pen = false;
                    continue;
                }

                path.Append(pen ? " L" : " M").Append(X(end)).Append(',').Append(Y(ne));
                pen = true;
            }

            var width = s == 0 ? 2.5 : 1.5;
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<path d="{path.ToString().Trim()}" fill="none" stroke="{colour}" stroke-width="{F(width)}"/>""");
            var legendY = Top + 10 + (s * 20);
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<line x1="{Left + plotWidth + 15}" x2="{Left + plotWidth + 40}" y1="{legendY}" y2="{legendY}" stroke="{colour}" stroke-width="{F(width)}"/>""");
            svg.AppendLine(CultureInfo.InvariantCulture, $"""<text x="{Left + plotWidth + 46}" y="{legendY}" dominant-baseline="middle">{WebUtility.HtmlEncode(series[s].Name)}</text>""");
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    private static string F(double x) => x.ToString("0.#", CultureInfo.InvariantCulture);
}
