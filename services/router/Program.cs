using Mesh.Router;
using Mesh.Runtime.Dapr;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddRouter();

var app = builder.Build();
app.MapDaprRuntime();
app.MapRouter();
app.Run();
