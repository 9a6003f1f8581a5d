using Mesh.Runtime.Dapr;
using Mesh.UserModel;

var builder = WebApplication.CreateBuilder(args);
builder.AddDaprRuntime();
builder.AddUserModel();

var app = builder.Build();
app.MapDaprRuntime();
app.Run();
