using Mesh.Dapr;
using Mesh.Ranker;

var builder = WebApplication.CreateBuilder(args);
builder.AddMeshRuntime();
builder.AddRanker();

var app = builder.Build();
app.MapMeshRuntime();
app.Run();
