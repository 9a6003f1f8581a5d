using Mesh.Ranker;
using Mesh.Runtime.Dapr;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddRanker();

var app = builder.Build();
app.MapDaprRuntime();
app.Run();
