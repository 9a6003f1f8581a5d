using Mesh.Precompute;
using Mesh.Runtime.Dapr;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddPrecompute();

var app = builder.Build();
app.MapDaprRuntime();
app.Run();
