using Mesh.Bench.Replay;
using Mesh.Contracts;

namespace Mesh.Bench.Tests.Replay;

public sealed class LogReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mesh-replay-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Open Bandit's shape: an unnamed index column, a space-separated ISO time with offset, no user id (the user is
    // two hashed columns joined), item features in a separate table.
    private const string Log = """
        ,timestamp,item_id,position,click,uf_0,uf_1,tags
        0,2019-11-24 00:03:13.442536+00:00,14,3,0,aa,bb,x|y
        1,2019-11-24 00:03:10.000000+00:00,10,1,1,aa,cc,
        2,not a time,10,2,0,aa,cc,z
        3,2019-11-24 00:04:00+02:00,99,2,1,dd,bb,z
        """;

    private const string Items = """
        ,item_id,price,brand
        0,10,12.5,b1
        1,14,-0.5,b2
        """;

    private static LogMapping Mapping => new LogMapping
    {
        User = ["uf_0", "uf_1"],
        Item = "item_id",
        Time = "timestamp",
        TimeFormat = "iso",
        Label = "click",
        Category = "brand",
        ContextFeatures = [new FeatureColumn { Name = "segment", Column = "uf_0" }],
        CandidateFeatures =
        [
            new FeatureColumn { Name = "position" },
            new FeatureColumn { Name = "price", Kind = FeatureKind.Numeric, Transform = FeatureTransform.Log1p },
            new FeatureColumn { Name = "tags", Separator = "|" },
        ],
        Items = new ItemTable { File = "{name}-items.csv", Key = "item_id" },
    }.Validate("test");

    [Fact]
    public void Read_CsvWithItemTable_MapsEveryKindOfColumn()
    {
        var log = Write("men.csv", Log);
        Write("men-items.csv", Items);

        var read = LogReader.Read(log, Mapping);

        Assert.Equal(3, read.Impressions.Count);
        Assert.Equal(1, read.SkippedRows);
        Assert.Contains("line 4", read.FirstProblems.Single(), StringComparison.Ordinal);
        Assert.Contains("'timestamp'", read.FirstProblems.Single(), StringComparison.Ordinal);
        Assert.Equal(1, read.ItemsMissingFromTable); // item 99

        var first = read.Impressions[0];
        Assert.Equal(2, first.Line);
        Assert.Equal("aa|bb", first.UserId);
        Assert.Equal("14", first.ItemId);
        Assert.Equal(new DateTimeOffset(2019, 11, 24, 0, 3, 13, TimeSpan.Zero).AddTicks(4_425_360), first.Time);
        Assert.False(first.Click);
        Assert.Equal("b2", first.Category);
        Assert.Equal(["aa"], first.Context["segment"].Values!);
        Assert.Equal(["3"], first.Candidate["position"].Values!);
        Assert.True(first.Candidate["price"].IsNumeric);
        Assert.Equal(-0.5, first.Candidate["price"].Number); // the raw value: the mesh applies the transform
        Assert.Equal(["x", "y"], first.Candidate["tags"].Values!);

        var second = read.Impressions[1];
        Assert.True(second.Click);
        Assert.Equal("aa|cc", second.UserId);
        Assert.False(second.Candidate.ContainsKey("tags")); // an empty cell leaves the feature out
        Assert.Equal(12.5, second.Candidate["price"].Number);

        var joinedLess = read.Impressions[2];
        Assert.Equal(new DateTimeOffset(2019, 11, 23, 22, 4, 0, TimeSpan.Zero), joinedLess.Time);
        Assert.Equal("none", joinedLess.Category);
        Assert.False(joinedLess.Candidate.ContainsKey("price"));
    }

    [Fact]
    public void Read_ColumnInNeitherLogNorItemTable_Throws()
    {
        var log = Write("men.csv", Log);
        Write("men-items.csv", Items);

        var e = Assert.Throws<InvalidDataException>(() => LogReader.Read(log, Mapping with { Label = "clicked" }));
        Assert.Contains("'clicked'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_Limit_ReadsThatManyRowsInFileOrder()
    {
        var log = Write("men.csv", Log);
        Write("men-items.csv", Items);

        var read = LogReader.Read(log, Mapping, limit: 2);

        Assert.Equal(["14", "10"], read.Impressions.Select(i => i.ItemId));
    }

    [Fact]
    public void Read_JsonLines_TakesArraysNumbersAndRequestKeys()
    {
        var log = Write("log.jsonl", """
            {"req":"r1","t":1700000000,"u":"u1","i":"a1","y":1,"tags":["t1","t2"],"price":9.5,"pos":1}
            {"req":"r1","t":1700000000,"u":"u1","i":"a2","y":0,"tags":[],"price":null,"pos":2}

            not json
            """);
        var mapping = new LogMapping
        {
            User = ["u"],
            Item = "i",
            Time = "t",
            TimeFormat = "unix-s",
            Label = "y",
            Request = "req",
            CandidateFeatures = [new FeatureColumn { Name = "tags", MaxValues = 3 }, new FeatureColumn { Name = "price", Kind = FeatureKind.Numeric }, new FeatureColumn { Name = "pos" }],
        };

        var read = LogReader.Read(log, mapping);

        Assert.Equal(2, read.Impressions.Count);
        Assert.Equal(1, read.SkippedRows);
        Assert.Equal("r1", read.Impressions[0].RequestKey);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), read.Impressions[0].Time);
        Assert.Equal(["t1", "t2"], read.Impressions[0].Candidate["tags"].Values!);
        Assert.Equal(9.5, read.Impressions[0].Candidate["price"].Number);
        Assert.Equal(["1"], read.Impressions[0].Candidate["pos"].Values!); // a number taken as a category by its text
        Assert.False(read.Impressions[1].Candidate.ContainsKey("tags"));
        Assert.False(read.Impressions[1].Candidate.ContainsKey("price"));
    }

    [Theory]
    [InlineData("1700000000", "auto", 1_700_000_000_000)]
    [InlineData("1700000000123", "auto", 1_700_000_000_123)]
    [InlineData("1700000000.5", "unix-s", 1_700_000_000_500)]
    [InlineData("1700000000123", "unix-ms", 1_700_000_000_123)]
    [InlineData("2023-11-14T22:13:20Z", "iso", 1_700_000_000_000)]
    [InlineData("2023-11-14 22:13:20", "auto", 1_700_000_000_000)] // no offset: UTC
    [InlineData("2023-11-15T00:13:20+02:00", "iso", 1_700_000_000_000)]
    public void ParseTime_EachFormat_GivesUnixMilliseconds(string text, string format, long unixMs) =>
        Assert.Equal(unixMs, LogReader.ParseTime(text, format).ToUnixTimeMilliseconds());

    [Theory]
    [InlineData("2023-11-14", "unix-s")]
    [InlineData("yesterday", "auto")]
    [InlineData("1e300", "unix-ms")]
    public void ParseTime_WrongText_ThrowsFormatException(string text, string format) =>
        Assert.Throws<FormatException>(() => LogReader.ParseTime(text, format));

    [Fact]
    public void Load_MappingFile_AcceptsOneColumnOrAListAndRejectsUnknownFields()
    {
        var one = Write("one.json", """{ "user": "u", "item": "i", "time": "t", "label": "y", "contextFeatures": [{ "name": "seg" }] }""");
        var list = Write("list.json", """{ "user": ["a", "b"], "item": "i", "time": "t", "label": "y" }""");
        var typo = Write("typo.json", """{ "user": "u", "item": "i", "time": "t", "label": "y", "catgory": "c" }""");
        var noUser = Write("nouser.json", """{ "item": "i", "time": "t", "label": "y" }""");
        var badTransform = Write("bad.json", """{ "user": "u", "item": "i", "time": "t", "label": "y", "candidateFeatures": [{ "name": "tag", "transform": "log1p" }] }""");

        Assert.Equal(["u"], LogMapping.Load(one).User);
        Assert.Equal(FeatureKind.Categorical, LogMapping.Load(one).ContextFeatures[0].Kind);
        Assert.Equal(["a", "b"], LogMapping.Load(list).User);
        Assert.Contains("catgory", Assert.Throws<InvalidDataException>(() => LogMapping.Load(typo)).Message, StringComparison.Ordinal);
        Assert.Contains("'user'", Assert.Throws<InvalidDataException>(() => LogMapping.Load(noUser)).Message, StringComparison.Ordinal);
        Assert.Contains("numeric", Assert.Throws<InvalidDataException>(() => LogMapping.Load(badTransform)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CommittedMappings_AreValid()
    {
        var mappings = Path.Combine(RepositoryRoot(), "bench", "mappings");
        Assert.NotEmpty(Directory.GetFiles(mappings, "*.json"));
        foreach (var file in Directory.GetFiles(mappings, "*.json"))
        {
            Assert.NotEmpty(LogMapping.Load(file).User);
        }
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Mesh.sln above the test's folder");
    }
}
