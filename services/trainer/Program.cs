using Mesh.Runtime.Dapr;
using Mesh.Trainer;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddTrainer();

var app = builder.Build();
app.MapDaprRuntime();
app.Run();
