using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace Mesh.Testing;

/// <summary>
/// The part of daprd's gRPC API (<c>dapr.proto.runtime.v1.Dapr</c>) that DaprClient uses for state and publish, on
/// Dapr.Protos' own message types. Dapr.Protos ships client stubs only, so the methods are bound by hand in
/// <see cref="MethodProvider"/>. Errors are daprd's gRPC statuses: an ETag mismatch is Aborted.
/// </summary>
internal sealed class DaprGrpcService(FakeDaprSidecar sidecar)
{
    private const string ServiceName = "dapr.proto.runtime.v1.Dapr";

    public Task<GetStateResponse> GetState(GetStateRequest request, ServerCallContext context)
    {
        Check(context, new SidecarCall("GetState", request.StoreName, request.Key, Metadata: request.Metadata.ToDictionary(), ApiToken: Token(context)));
        var response = new GetStateResponse();
        if (sidecar.Get(request.StoreName, request.Key) is { } entry)
        {
            response.Data = ByteString.CopyFrom(entry.Value);
            response.Etag = entry.ETag;
        }

        return Task.FromResult(response);
    }

    public Task<GetBulkStateResponse> GetBulkState(GetBulkStateRequest request, ServerCallContext context)
    {
        Check(context, new SidecarCall("GetBulkState", request.StoreName, string.Join(',', request.Keys), Metadata: request.Metadata.ToDictionary(), ApiToken: Token(context)));
        var response = new GetBulkStateResponse();
        foreach (var key in request.Keys)
        {
            // A missing key is an item without data, in request order.
            var item = new BulkStateItem { Key = key };
            if (sidecar.Get(request.StoreName, key) is { } entry)
            {
                item.Data = ByteString.CopyFrom(entry.Value);
                item.Etag = entry.ETag;
            }

            response.Items.Add(item);
        }

        return Task.FromResult(response);
    }

    public Task<Empty> SaveState(SaveStateRequest request, ServerCallContext context)
    {
        foreach (var item in request.States)
        {
            Check(context, SidecarCall.FromState("SaveState", request.StoreName, item, operation: null, Token(context)));
        }

        Write(request.StoreName, request.States.Select(s => (s, Delete: false)));
        return Task.FromResult(new Empty());
    }

    public Task<Empty> DeleteState(DeleteStateRequest request, ServerCallContext context)
    {
        var item = new StateItem { Key = request.Key, Etag = request.Etag, Options = request.Options };
        item.Metadata.Add(request.Metadata);
        Check(context, SidecarCall.FromState("DeleteState", request.StoreName, item, operation: null, Token(context)));
        Write(request.StoreName, [(item, Delete: true)]);
        return Task.FromResult(new Empty());
    }

    public Task<Empty> ExecuteStateTransaction(ExecuteStateTransactionRequest request, ServerCallContext context)
    {
        foreach (var operation in request.Operations)
        {
            Check(context, SidecarCall.FromState("ExecuteStateTransaction", request.StoreName, operation.Request, operation.OperationType, Token(context)));
        }

        try
        {
            Write(request.StoreName, request.Operations.Select(o => (o.Request, Delete: o.OperationType == "delete")));
        }
        catch (RpcException e)
        {
            // Inside a transaction every failure, an ETag mismatch included, is one kind (ERR_STATE_TRANSACTION).
            throw new RpcException(new Status(StatusCode.Internal, $"error while executing state transaction: {e.Status.Detail}"));
        }

        return Task.FromResult(new Empty());
    }

    public Task<Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
    {
        Check(context, new SidecarCall(
            "PublishEvent", request.PubsubName, request.Topic, ContentType: request.DataContentType, Metadata: request.Metadata.ToDictionary(),
            Body: request.Data.ToByteArray(), ApiToken: Token(context), TraceParent: context.RequestHeaders.GetValue("traceparent")));
        return Task.FromResult(new Empty());
    }

    private void Write(string store, IEnumerable<(StateItem Item, bool Delete)> items)
    {
        var writes = items.Select(i => new StateWrite(
            i.Item.Key,
            i.Delete ? null : i.Item.Value.ToByteArray(),
            i.Item.Etag?.Value,
            i.Item.Options?.Concurrency == StateOptions.Types.StateConcurrency.ConcurrencyFirstWrite,
            i.Item.Metadata.ToDictionary())).ToList();
        if (!sidecar.Apply(store, writes))
        {
            throw new RpcException(new Status(StatusCode.Aborted, "possible etag mismatch. error from state store: ETag mismatch"));
        }
    }

    // Records the call, then refuses it as daprd would: without the API token, or with a scripted fault.
    private void Check(ServerCallContext context, SidecarCall call)
    {
        sidecar.Record(call);
        if (!sidecar.Authorized(Token(context)))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "invalid api token"));
        }

        if (sidecar.FaultFor(call.Api, call.Target) is { } status)
        {
            var code = status switch
            {
                409 => StatusCode.Aborted,
                400 => StatusCode.InvalidArgument,
                404 => StatusCode.NotFound,
                _ => StatusCode.Internal,
            };
            throw new RpcException(new Status(code, $"fault injected in {call.Api} on {call.Target}"));
        }
    }

    private static string? Token(ServerCallContext context) => context.RequestHeaders.GetValue("dapr-api-token");

    internal sealed class MethodProvider : IServiceMethodProvider<DaprGrpcService>
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<DaprGrpcService> context)
        {
            context.AddUnaryMethod(Unary("GetState", GetStateRequest.Parser, GetStateResponse.Parser), [], (s, r, c) => s.GetState(r, c));
            context.AddUnaryMethod(Unary("GetBulkState", GetBulkStateRequest.Parser, GetBulkStateResponse.Parser), [], (s, r, c) => s.GetBulkState(r, c));
            context.AddUnaryMethod(Unary("SaveState", SaveStateRequest.Parser, Empty.Parser), [], (s, r, c) => s.SaveState(r, c));
            context.AddUnaryMethod(Unary("DeleteState", DeleteStateRequest.Parser, Empty.Parser), [], (s, r, c) => s.DeleteState(r, c));
            context.AddUnaryMethod(Unary("ExecuteStateTransaction", ExecuteStateTransactionRequest.Parser, Empty.Parser), [], (s, r, c) => s.ExecuteStateTransaction(r, c));
            context.AddUnaryMethod(Unary("PublishEvent", PublishEventRequest.Parser, Empty.Parser), [], (s, r, c) => s.PublishEvent(r, c));
        }

        private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse> =>
            new(MethodType.Unary, ServiceName, name, Marshallers.Create(m => m.ToByteArray(), request.ParseFrom), Marshallers.Create(m => m.ToByteArray(), response.ParseFrom));
    }
}
