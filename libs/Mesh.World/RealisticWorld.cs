using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;

namespace Mesh.World;

/// <summary>One logged impression of a <see cref="RealisticWorld"/>: what was shown, to whom, when, and whether it was clicked.</summary>
/// <param name="Request">The request it was shown in (<c>r0000000</c>); the items of a request share their time.</param>
/// <param name="Time">Event time of the request.</param>
/// <param name="UserId">The user (<c>u000000</c>); new users keep arriving all through the log.</param>
/// <param name="Segment">Context feature: the user's segment.</param>
/// <param name="Age">Context feature: the user's age bucket.</param>
/// <param name="Region">Context feature: the user's region.</param>
/// <param name="ItemId">The item (<c>i000000</c>); items are born and die over the days of the log.</param>
/// <param name="Category">The item's category.</param>
/// <param name="Tags">Candidate feature: 1 to 3 distinct tags of the item.</param>
/// <param name="Price">Candidate feature: the item's price, log-normal, about 5 to 150.</param>
/// <param name="Position">Candidate feature: the slot it was shown in, 1 (best) to the request's size.</param>
/// <param name="Click">The label, drawn from <paramref name="Probability"/>.</param>
/// <param name="Probability">The planted click probability: the best any model can predict.</param>
public sealed record RealisticImpression(
    string Request, DateTimeOffset Time, string UserId, string Segment, string Age, string Region,
    string ItemId, string Category, IReadOnlyList<string> Tags, double Price, int Position, bool Click, double Probability);

/// <summary>
/// The synthetic world's realistic mode, as an impression log: a click rate of a few percent, three context features
/// (segment, age bucket, region) and three candidate features (tags, price, position), a steady inflow of new users
/// and items over days of event time, and a uniformly random logging policy (every candidate of a request is shown
/// and logged, so the log knows its negatives). The truth is
/// <code>
/// logit = b0 − decay·(position − 1) + userBias + itemQuality + S[segment, category] + mean over tags A[age, tag]
///       + R[region]·(ln(1 + price) − 3) + β·&lt;user taste, item&gt; + 0.15·cos(2π(hour − 20)/24)
/// </code>
/// Only the bias and position terms are additive: the rest are interactions of a context feature with a candidate
/// feature (or of the user with the item), which a model with feature crosses can learn and logistic regression on
/// the features alone cannot. The same options give the same log, byte for byte.
/// </summary>
public sealed class RealisticWorld
{
    /// <summary>Field names of the JSON lines <see cref="WriteJsonLines"/> writes.</summary>
    public static class Fields
    {
        public const string Request = "request";
        public const string Time = "time";
        public const string User = "user";
        public const string Segment = "segment";
        public const string Age = "age";
        public const string Region = "region";
        public const string Item = "item";
        public const string Category = "category";
        public const string Tags = "tags";
        public const string Price = "price";
        public const string Position = "position";
        public const string Click = "click";
        public const string Probability = "p";
    }

    private const int TasteDimensions = 4;
    private const double TasteNoise = 0.5;
    private const double MeanLogPrice = 3.0;

    public RealisticWorld(RealisticWorldOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        if (options.MeanItemLifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException("MeanItemLifetime must be positive.", nameof(options));
        }

        Options = options;
    }

    public RealisticWorldOptions Options { get; }

    /// <summary>The impressions in event-time order (a request's items by position). Each enumeration starts afresh and gives the same sequence.</summary>
    public IEnumerable<RealisticImpression> Impressions()
    {
        var o = Options;
        var random = new Random(Seeds.Derive(o.Seed, Seeds.Realistic));
        var tables = new Tables(o, random);
        var users = new List<User>();
        var requestUsers = new List<int>(); // the user of every request so far: preferential attachment
        for (var i = 0; i < o.InitialUsers; i++)
        {
            users.Add(NewUser(random, tables, users.Count));
        }

        var alive = new List<Item>();
        var itemCount = 0;
        for (var i = 0; i < o.InitialItems; i++)
        {
            alive.Add(NewItem(random, tables, itemCount++, o.Start));
        }

        var k = o.CandidatesPerRequest;
        var requests = (o.Impressions + k - 1) / k;
        var span = TimeSpan.FromDays(o.Days);
        var nextBirth = o.Start + NextBirthGap(random);
        var shown = new List<Item>(k);
        var written = 0;
        for (var r = 0; r < requests; r++)
        {
            // Evenly spread with jitter inside each request's slot, so times never go backwards.
            var time = o.Start + (span * ((r + random.NextDouble()) / requests));
            while (nextBirth <= time)
            {
                alive.Add(NewItem(random, tables, itemCount++, nextBirth));
                nextBirth += NextBirthGap(random);
            }

            alive.RemoveAll(item => item.Dies <= time);
            while (alive.Count < k)
            {
                alive.Add(NewItem(random, tables, itemCount++, time));
            }

            User user;
            if (users.Count == 0 || random.NextDouble() < o.NewUserShare)
            {
                user = NewUser(random, tables, users.Count);
                users.Add(user);
            }
            else
            {
                // Half the time a user of a past request (heavy users come back more), else any known user.
                user = requestUsers.Count > 0 && random.NextDouble() < 0.5
                    ? users[requestUsers[random.Next(requestUsers.Count)]]
                    : users[random.Next(users.Count)];
            }

            requestUsers.Add(user.Index);
            shown.Clear();
            while (shown.Count < k)
            {
                var item = alive[random.Next(alive.Count)];
                if (!shown.Contains(item))
                {
                    shown.Add(item);
                }
            }

            var requestId = "r" + r.ToString("D7", CultureInfo.InvariantCulture);
            var hourEffect = 0.15 * Math.Cos(2 * Math.PI * (time.UtcDateTime.TimeOfDay.TotalHours - 20) / 24.0);
            for (var position = 1; position <= k && written < o.Impressions; position++, written++)
            {
                var item = shown[position - 1];
                var logit = o.BaseLogit
                    - (o.PositionDecay * (position - 1))
                    + user.Bias + item.Quality
                    + tables.SegmentCategory[user.Segment, item.Category]
                    + item.Tags.Average(t => tables.AgeTag[user.Age, t])
                    + (tables.RegionPrice[user.Region] * (Math.Log(1 + item.Price) - MeanLogPrice))
                    + (o.TasteInteraction * Dot(user.Taste, item.Latent))
                    + hourEffect;
                var p = SyntheticWorld.Sigmoid(logit);
                var click = random.NextDouble() < p;
                yield return new RealisticImpression(
                    requestId, time, user.Id, Name('s', user.Segment, 1), Name('a', user.Age, 1), Name('r', user.Region, 2),
                    item.Id, Name('c', item.Category, 2), [.. item.Tags.Select(t => Name('t', t, 2))], item.Price, position, click, p);
            }
        }
    }

    /// <summary>
    /// Writes <see cref="Impressions"/> as JSON lines with the <see cref="Fields"/> names: times in ISO 8601 UTC with
    /// milliseconds, <c>click</c> 0 or 1, <c>tags</c> an array, <c>p</c> the planted probability (6 decimals).
    /// Returns the number of lines.
    /// </summary>
    public long WriteJsonLines(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var lines = 0L;
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        foreach (var i in Impressions())
        {
            json.Reset();
            json.WriteStartObject();
            json.WriteString(Fields.Request, i.Request);
            json.WriteString(Fields.Time, i.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteString(Fields.User, i.UserId);
            json.WriteString(Fields.Segment, i.Segment);
            json.WriteString(Fields.Age, i.Age);
            json.WriteString(Fields.Region, i.Region);
            json.WriteString(Fields.Item, i.ItemId);
            json.WriteString(Fields.Category, i.Category);
            json.WriteStartArray(Fields.Tags);
            foreach (var tag in i.Tags)
            {
                json.WriteStringValue(tag);
            }

            json.WriteEndArray();
            json.WriteNumber(Fields.Price, Math.Round(i.Price, 2));
            json.WriteNumber(Fields.Position, i.Position);
            json.WriteNumber(Fields.Click, i.Click ? 1 : 0);
            json.WriteNumber(Fields.Probability, Math.Round(i.Probability, 6));
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
            lines++;
        }

        return lines;
    }

    private TimeSpan NextBirthGap(Random random) =>
        Options.NewItemsPerDay > 0 ? TimeSpan.FromDays(random.NextExponential(1.0 / Options.NewItemsPerDay)) : TimeSpan.MaxValue / 2;

    private User NewUser(Random random, Tables tables, int index)
    {
        var segment = random.Next(Options.Segments);
        var taste = new double[TasteDimensions];
        var favourite = tables.CategoryDirections[random.Next(Options.Categories)];
        for (var d = 0; d < taste.Length; d++)
        {
            taste[d] = favourite[d] + (TasteNoise * random.NextGaussian());
        }

        return new User(
            index, "u" + index.ToString("D6", CultureInfo.InvariantCulture), segment, random.Next(Options.AgeBuckets), random.Next(Options.Regions),
            Options.UserBiasScale * random.NextGaussian(), taste);
    }

    private Item NewItem(Random random, Tables tables, int index, DateTimeOffset born)
    {
        var category = random.Next(Options.Categories);
        var latent = new double[TasteDimensions];
        for (var d = 0; d < latent.Length; d++)
        {
            latent[d] = tables.CategoryDirections[category][d] + (TasteNoise * random.NextGaussian());
        }

        var tags = new List<int>(3);
        var count = 1 + random.Next(3);
        while (tags.Count < count)
        {
            var tag = random.Next(Options.Tags);
            if (!tags.Contains(tag))
            {
                tags.Add(tag);
            }
        }

        var price = Math.Exp(MeanLogPrice + tables.CategoryPrice[category] + (0.5 * random.NextGaussian()));
        var lifetime = TimeSpan.FromTicks(Math.Max(1, (long)random.NextExponential(Options.MeanItemLifetime.Ticks)));
        return new Item(
            "i" + index.ToString("D6", CultureInfo.InvariantCulture), category, [.. tags], price,
            Options.ItemQualityScale * random.NextGaussian(), latent, born + lifetime);
    }

    private static string Name(char prefix, int index, int digits) =>
        prefix + index.ToString(digits == 1 ? "D1" : "D2", CultureInfo.InvariantCulture);

    private static double Dot(double[] x, double[] y)
    {
        var sum = 0.0;
        for (var d = 0; d < x.Length; d++)
        {
            sum += x[d] * y[d];
        }

        return sum;
    }

    private sealed record User(int Index, string Id, int Segment, int Age, int Region, double Bias, double[] Taste);

    private sealed record Item(string Id, int Category, int[] Tags, double Price, double Quality, double[] Latent, DateTimeOffset Dies);

    /// <summary>The fixed tables of the click model, drawn first from the log's one random stream.</summary>
    private sealed class Tables
    {
        public Tables(RealisticWorldOptions o, Random random)
        {
            SegmentCategory = Table(random, o.Segments, o.Categories, o.SegmentCategoryScale);
            AgeTag = Table(random, o.AgeBuckets, o.Tags, o.AgeTagScale);
            RegionPrice = [.. Enumerable.Range(0, o.Regions).Select(_ => o.RegionPriceScale * random.NextGaussian())];
            CategoryPrice = [.. Enumerable.Range(0, o.Categories).Select(_ => 0.5 * random.NextGaussian())];
            CategoryDirections = [.. Enumerable.Range(0, o.Categories).Select(_ => Unit(random))];
        }

        public double[,] SegmentCategory { get; }

        public double[,] AgeTag { get; }

        public double[] RegionPrice { get; }

        /// <summary>Offset of each category's mean log price: categories differ in price level.</summary>
        public double[] CategoryPrice { get; }

        public double[][] CategoryDirections { get; }

        private static double[,] Table(Random random, int rows, int columns, double scale)
        {
            var table = new double[rows, columns];
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < columns; c++)
                {
                    table[r, c] = scale * random.NextGaussian();
                }
            }

            return table;
        }

        private static double[] Unit(Random random)
        {
            var v = new double[TasteDimensions];
            var norm = 0.0;
            while (norm < 1e-9)
            {
                for (var d = 0; d < v.Length; d++)
                {
                    v[d] = random.NextGaussian();
                }

                norm = Math.Sqrt(Dot(v, v));
            }

            for (var d = 0; d < v.Length; d++)
            {
                v[d] /= norm;
            }

            return v;
        }
    }
}
