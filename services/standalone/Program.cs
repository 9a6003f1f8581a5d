using Mesh.Standalone;

var builder = WebApplication.CreateBuilder(args);
builder.AddStandaloneMesh();

var app = builder.Build();
app.MapStandaloneMesh();
app.Run();
