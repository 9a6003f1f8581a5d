using Mesh.Precompute;
using Mesh.Ranker;
using Mesh.Router;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Standalone.Driving;
using Mesh.Standalone.Reporting;
using Mesh.Trainer;
using Mesh.UserModel;

namespace Mesh.Standalone;

public static class Extensions
{
    /// <summary>The five services on the embedded runtime in one process, plus the synthetic driver and a summary line.</summary>
    public static WebApplicationBuilder AddStandaloneMesh(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<StandaloneOptions>();
        var standalone = builder.Configuration.GetSection("Standalone").Get<StandaloneOptions>() ?? new StandaloneOptions();
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(standalone.Url);
        }

        services.Configure<EmbeddedRuntimeOptions>(o => o.DataDirectory ??= string.IsNullOrEmpty(standalone.DataDirectory) ? null : Path.GetFullPath(standalone.DataDirectory));

        builder.AddEmbeddedRuntime();
        builder.AddRouter();
        builder.AddUserModel();
        builder.AddPrecompute();
        builder.AddRanker();
        builder.AddTrainer();

        if (standalone.Driver)
        {
            services.AddValidatedOptions<World.WorldOptions>();
            services.AddValidatedOptions<World.DriverOptions>();
            services.AddSingleton<DriverHost>();
            services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<DriverHost>());
            services.AddHostedService(sp => sp.GetRequiredService<DriverHost>());
        }

        if (standalone.SummaryInterval > TimeSpan.Zero)
        {
            services.AddHostedService<SummaryPrinter>();
        }

        return builder;
    }

    public static WebApplication MapStandaloneMesh(this WebApplication app)
    {
        app.MapMeshDefaults();
        app.MapRouter();
        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<StandaloneOptions>>().Value.BenchEndpoints)
        {
            app.MapBareRank();
        }

        return app;
    }
}
