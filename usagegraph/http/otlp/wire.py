"""OTLP/HTTP on the wire: content types, gzip, decoding into the OpenTelemetry project's own protocol
messages (opentelemetry-proto), and the response and error bodies of the specification.

Binary bodies are ``application/x-protobuf``; JSON bodies are ``application/json`` in the OTLP JSON
encoding, which is protobuf's JSON mapping with two differences this module undoes before protobuf's
json_format reads it: trace and span ids are hex strings (not base64), and enum values may be integers
(json_format accepts those). Field names may be lowerCamelCase or the proto names; 64-bit integers may be
strings or numbers."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, status_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_HEX_IDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})

M = TypeVar("M", bound=Message)


class WireError(Exception):
    """A request refused as a whole: its HTTP status, a gRPC status code for the Status body, and a
    reason label for the rejection counter."""

    def __init__(self, status: int, message: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.headers = headers or {}

    @property
    def grpc_code(self) -> int:
        codes: dict[int, int] = {
            400: code_pb2.INVALID_ARGUMENT,
            401: code_pb2.UNAUTHENTICATED,
            403: code_pb2.PERMISSION_DENIED,
            413: code_pb2.RESOURCE_EXHAUSTED,
            415: code_pb2.INVALID_ARGUMENT,
            429: code_pb2.RESOURCE_EXHAUSTED,
        }
        return codes.get(self.status, int(code_pb2.UNAVAILABLE))


def media_type(content_type: str | None) -> str | None:
    """PROTOBUF or JSON for a request's Content-Type, None for anything else."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == PROTOBUF:
        return PROTOBUF
    if media == JSON:
        return JSON
    return None


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its Content-Encoding (identity or gzip), refused with 413 when it inflates past
    ``limit`` bytes: a small compressed body must not become a large allocation."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise WireError(415, f"Content-Encoding {encoding!r} is not supported; send gzip or none", "encoding")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise WireError(400, "the body is not valid gzip", "malformed") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise WireError(413, f"the decompressed body is over {limit} bytes", "too_large")
    if not inflater.eof:
        raise WireError(400, "the gzip body is truncated", "malformed")
    return data


def _hex_ids_to_base64(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _HEX_IDS and isinstance(item, str):
                try:
                    out[key] = base64.b64encode(bytes.fromhex(item)).decode("ascii")
                except ValueError:
                    raise WireError(
                        400, f"{key} must be a hex string, got {item[:40]!r}", "malformed"
                    ) from None
            else:
                out[key] = _hex_ids_to_base64(item)
        return out
    if isinstance(value, list):
        return [_hex_ids_to_base64(item) for item in value]
    return value


def decode(body: bytes, media: str, message: M) -> M:
    """Fills ``message`` (an Export*ServiceRequest) from the body, or raises 400."""
    if media == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as error:
            raise WireError(400, f"the body is not a valid protobuf message: {error}", "malformed") from None
        return message
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WireError(400, "the body is not valid JSON", "malformed") from None
    if not isinstance(document, dict):
        raise WireError(400, "the body must be a JSON object", "malformed")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as error:
        raise WireError(400, f"the body is not a valid OTLP JSON message: {error}", "malformed") from None
    return message


def encode(message: Message, media: str) -> bytes:
    if media == PROTOBUF:
        return bytes(message.SerializeToString())
    return orjson.dumps(json_format.MessageToDict(message))


def status_body(error: WireError, media: str) -> bytes:
    """The google.rpc.Status body of a refused request, in the request's encoding."""
    return encode(status_pb2.Status(code=error.grpc_code, message=error.message), media)
