using Mesh.Dapr;
using Mesh.UserModel;

var builder = WebApplication.CreateBuilder(args);
builder.AddMeshRuntime();
builder.AddUserModel();

var app = builder.Build();
app.MapMeshRuntime();
app.Run();
