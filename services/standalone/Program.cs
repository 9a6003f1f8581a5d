using Mesh.Standalone;

// Settings ship beside the binary, so the host finds them from any working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddStandaloneMesh();

var app = builder.Build();
app.MapStandaloneMesh();
app.Run();
