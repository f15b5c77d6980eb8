"""gRPC server reflection (v1alpha) without grpcio-reflection (Debian packages grpcio and
protobuf, not grpcio-reflection): the protocol's messages are built here from a hand-written
descriptor of the few fields this client uses (field numbers of grpc/reflection/v1alpha/
reflection.proto), then every file the server describes is loaded into a DescriptorPool.
"""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def message_class(desc):
    """The message class of a descriptor (protobuf ≥ 4.22: GetMessageClass; older: a factory)."""
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:
        return get(desc)
    return message_factory.MessageFactory(desc.file.pool).GetPrototype(desc)


def _classes():
    fd = descriptor_pb2.FileDescriptorProto(name="tc_reflection_subset.proto", package="grpc.reflection.v1alpha", syntax="proto3")

    def msg(name, fields, oneof=None):
        m = fd.message_type.add(name=name)
        if oneof:
            # The request is a oneof: its members have presence, so list_services="" is sent.
            m.oneof_decl.add(name=oneof[0])
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if oneof and fname in oneof[1]:
                f.oneof_index = 0

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg("ServerReflectionRequest", [
        ("host", 1, F.TYPE_STRING, opt, None),
        ("file_by_filename", 3, F.TYPE_STRING, opt, None),
        ("file_containing_symbol", 4, F.TYPE_STRING, opt, None),
        ("list_services", 7, F.TYPE_STRING, opt, None),
    ], ("message_request", {"file_by_filename", "file_containing_symbol", "list_services"}))
    msg("FileDescriptorResponse", [("file_descriptor_proto", 1, F.TYPE_BYTES, rep, None)])
    msg("ServiceResponse", [("name", 1, F.TYPE_STRING, opt, None)])
    msg("ListServiceResponse", [("service", 1, F.TYPE_MESSAGE, rep, ".grpc.reflection.v1alpha.ServiceResponse")])
    msg("ErrorResponse", [("error_code", 1, F.TYPE_INT32, opt, None), ("error_message", 2, F.TYPE_STRING, opt, None)])
    msg("ServerReflectionResponse", [
        ("file_descriptor_response", 4, F.TYPE_MESSAGE, opt, ".grpc.reflection.v1alpha.FileDescriptorResponse"),
        ("list_services_response", 6, F.TYPE_MESSAGE, opt, ".grpc.reflection.v1alpha.ListServiceResponse"),
        ("error_response", 7, F.TYPE_MESSAGE, opt, ".grpc.reflection.v1alpha.ErrorResponse"),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    get = lambda n: message_class(pool.FindMessageTypeByName(f"grpc.reflection.v1alpha.{n}"))
    return get("ServerReflectionRequest"), get("ServerReflectionResponse")


def reflect(channel):
    """(service names, a DescriptorPool holding every file the server describes for them)."""
    req_cls, resp_cls = _classes()
    call = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 request_serializer=req_cls.SerializeToString, response_deserializer=resp_cls.FromString)

    def ask(**kw):
        r = next(iter(call(iter([req_cls(**kw)]), timeout=10)))
        if r.HasField("error_response"):
            raise LookupError(f"reflection {kw}: {r.error_response.error_message}")
        return r

    services = sorted(s.name for s in ask(list_services="").list_services_response.service)
    protos = {}

    def fetch(resp):
        for b in resp.file_descriptor_response.file_descriptor_proto:
            f = descriptor_pb2.FileDescriptorProto.FromString(b)
            protos.setdefault(f.name, f)

    for s in services:
        fetch(ask(file_containing_symbol=s))
    pool, added = descriptor_pool.DescriptorPool(), set()
    while len(added) < len(protos):
        progress = False
        for name, f in list(protos.items()):
            if name in added:
                continue
            for d in f.dependency:
                if d not in protos:
                    fetch(ask(file_by_filename=d))
            if all(d in added for d in f.dependency):
                pool.Add(f)
                added.add(name)
                progress = True
        if not progress:
            raise LookupError(f"reflection: unresolvable dependencies among {sorted(protos)}")
    return services, pool
