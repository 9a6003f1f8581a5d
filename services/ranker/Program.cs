using Mesh.Runtime.Dapr;
using Mesh.Ranker;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddRanker();

var app = builder.Build();
app.MapDaprRuntime();
app.Run();
