using Mesh.Dapr;
using Mesh.Precompute;

var builder = WebApplication.CreateBuilder(args);
builder.AddMeshRuntime();
builder.AddPrecompute();

var app = builder.Build();
app.MapMeshRuntime();
app.Run();
