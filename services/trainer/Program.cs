using Mesh.Dapr;
using Mesh.Trainer;

var builder = WebApplication.CreateBuilder(args);
builder.AddMeshRuntime();
builder.AddTrainer();

var app = builder.Build();
app.MapMeshRuntime();
app.Run();
