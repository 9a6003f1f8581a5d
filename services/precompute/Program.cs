using Mesh.Runtime.Dapr;
using Mesh.Precompute;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddPrecompute();

var app = builder.Build();
app.MapDaprRuntime();
app.Run();
