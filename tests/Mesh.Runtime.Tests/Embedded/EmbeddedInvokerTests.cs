using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Embedded;

public sealed class EmbeddedInvokerTests
{
    public sealed record Question(int A, int B);

    public sealed record Answer(int Sum);

    public sealed class Adder : IMethodHandler<Question, Answer>
    {
        public Task<Answer> HandleAsync(Question request, CancellationToken cancellationToken) =>
            request.A < 0 ? throw new InvalidInvocationException("a: must not be negative") : Task.FromResult(new Answer(request.A + request.B));
    }

    private static Task<EmbeddedHost> StartAsync() =>
        EmbeddedHost.StartAsync(s => s.AddMethod<Question, Answer, Adder>("calc", "add"));

    [Fact]
    public async Task Invoke_KnownMethod_ReturnsResponse()
    {
        await using var mesh = await StartAsync();
        var invoker = mesh.Services.GetRequiredService<IServiceInvoker>();

        var answer = await invoker.InvokeAsync<Question, Answer>("calc", "add", new Question(2, 3));

        Assert.Equal(5, answer.Sum);
    }

    [Fact]
    public async Task Invoke_UnknownMethod_Throws404()
    {
        await using var mesh = await StartAsync();
        var invoker = mesh.Services.GetRequiredService<IServiceInvoker>();

        var e = await Assert.ThrowsAsync<InvocationException>(() => invoker.InvokeAsync<Question, Answer>("calc", "multiply", new Question(2, 3)));

        Assert.Equal(404, e.StatusCode);
    }

    [Fact]
    public async Task Invoke_RefusedRequest_Throws400()
    {
        await using var mesh = await StartAsync();
        var invoker = mesh.Services.GetRequiredService<IServiceInvoker>();

        var e = await Assert.ThrowsAsync<InvocationException>(() => invoker.InvokeAsync<Question, Answer>("calc", "add", new Question(-1, 3)));

        Assert.Equal(400, e.StatusCode);
    }
}
