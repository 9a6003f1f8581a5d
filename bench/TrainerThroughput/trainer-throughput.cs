#:project ../../services/trainer/Mesh.Trainer.csproj
#:project ../../libs/Mesh.Runtime.Embedded/Mesh.Runtime.Embedded.csproj
#:property PublishAot=false

// Labelled impressions per second the trainer trains on: the trainer's own loop (LabelJoiner, StreamingTrainer with its
// defaults: batches of 64 requests, 1 GEMM thread, weight averaging, progressive validation, publishes with checkpoint
// and ONNX export into an in-memory store), on one collection of a synthetic stream already labelled.
// Usage: bench/run.sh trainer-throughput [requests (default 3000)] [candidates per request (default 10)]
using System.Diagnostics;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Trainer;
using Mesh.Trainer.Training;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 3000;
var candidates = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
var options = Options.Create(new TrainerOptions());
var clock = TimeProvider.System;
var joiner = new LabelJoiner(options, clock);
var publisher = new CountingPublisher();
using var trainer = new StreamingTrainer(joiner, new EmbeddedStateStore(clock), publisher, options, clock, NullLogger<StreamingTrainer>.Instance);

// Seeded stream: 1,000 users, 500 ads in 20 categories; ads of the first 4 categories are clicked 30% of the time,
// the others 2%; requests 10 ms apart in event time, each impression's feedback explicit (click or no-click).
var random = new Random(1);
var t0 = new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.Zero);
for (var r = 0; r < requests; r++)
{
    var at = t0.AddMilliseconds(10 * r);
    var items = Enumerable.Range(0, candidates).Select(i =>
    {
        var ad = random.Next(500);
        return new ServedImpression { ImpressionId = $"{r}-{i}", AdId = $"ad{ad}", Category = $"c{ad % 20}", Position = i, Score = 0.04 };
    }).ToList();
    joiner.AddImpressions(new ImpressionsServed
    {
        RequestId = $"r{r}",
        UserId = $"u{random.Next(1000)}",
        ServedAt = at,
        OccurredAt = at,
        Context = new RankContext { Surface = "feed", Device = "ios", Hour = at.Hour },
        ModelVersion = 0,
        Tier = Tiers.Large,
        Embedding = new ServedEmbedding { Source = EmbeddingSource.Default, Vector = [], ModelVersion = 0 },
        CandidateCount = candidates,
        Items = items,
    });
    foreach (var item in items)
    {
        var hot = int.Parse(item.Category[1..], System.Globalization.CultureInfo.InvariantCulture) < 4;
        var clicked = random.NextDouble() < (hot ? 0.3 : 0.02);
        joiner.AddFeedback(new FeedbackReceived
        {
            FeedbackId = "f" + item.ImpressionId,
            ImpressionId = item.ImpressionId,
            UserId = "u",
            AdId = item.AdId,
            Kind = clicked ? FeedbackKind.Click : FeedbackKind.NoClick,
            OccurredAt = at.AddSeconds(1),
        });
    }
}

var watch = Stopwatch.StartNew();
await trainer.CollectAsync(CancellationToken.None);
watch.Stop();
var examples = (long)requests * candidates;
Console.WriteLine($"trainer: {examples} labelled impressions ({requests} requests of {candidates}) in {watch.Elapsed.TotalSeconds:F2} s, {publisher.Published} versions published, {Environment.ProcessorCount} cores");
Console.WriteLine($"BENCH trainer_labelled_impressions_per_s {examples / watch.Elapsed.TotalSeconds:F0} impressions/s");
return 0;

internal sealed class CountingPublisher : IEventPublisher
{
    public int Published { get; private set; }

    public Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default)
    {
        Published++;
        return Task.CompletedTask;
    }
}
