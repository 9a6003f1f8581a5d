using Mesh.Dapr;
using Mesh.Router;

var builder = WebApplication.CreateBuilder(args);
builder.AddMeshRuntime();
builder.AddRouter();

var app = builder.Build();
app.MapMeshRuntime();
app.MapRouter();
app.Run();
