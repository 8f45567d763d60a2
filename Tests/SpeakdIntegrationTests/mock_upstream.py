#!/usr/bin/env python3
"""Mock of OpenAI's ``POST /v1/audio/speech`` for speakd's integration tests and benchmarks.

Python 3.11 standard library only.  A real threaded HTTP/1.1 server on 127.0.0.1 with
keep-alive.  Once listening it prints exactly one line ``PORT <n>`` to stdout (flushed) and
then serves until SIGTERM or SIGINT, when it exits 0 at once (open connections are dropped).
Nothing is written to stderr per request unless ``--verbose``; tracebacks of real bugs in the
mock itself are still printed.

Example::

    python3 mock_upstream.py --expect-key k --log /tmp/up --chunks 1,3,4097 \\
        --first-bytes 4800 --hold 2 --content-type-rate 24000

    curl -sN -X POST http://127.0.0.1:PORT/v1/audio/speech -H 'Authorization: Bearer k' \\
        -H 'Content-Type: application/json' \\
        -d '{"model":"tts-1","input":"hello","voice":"alloy","response_format":"pcm"}' | wc -c

Request handling, in this order
-------------------------------
1. The request body is read in full (Content-Length or chunked; > 16 MiB -> 413 and close).
2. Error injection (``--status`` / ``--fail-first``) happens here unless
   ``--validate-before-error``, in which case it happens after step 3 and only for valid requests.
3. Validation.  Errors are OpenAI-shaped
   ``{"error":{"message":"...","type":"invalid_request_error","param":<field or null>,"code":null}}``
   with Content-Length, and the connection is kept alive:
   - method other than POST -> 405 (with ``Allow: POST``), param null;
   - path (query string ignored) other than ``<base>/audio/speech`` -> 404, param null;
   - with ``--expect-key KEY``: ``Authorization`` not exactly ``Bearer KEY`` -> 401
     ``{"error":{"message":"Incorrect API key provided: ...","type":"invalid_request_error",
     "param":null,"code":"invalid_api_key"}}``;
   - Content-Type media type not ``application/json`` (parameters such as charset allowed);
   - body not UTF-8 JSON (NaN/Infinity rejected), or not a JSON object (param null);
   - a property outside {model,input,instructions,voice,response_format,speed} (param = it);
   - model, input or voice missing;
   - model/input/instructions/voice/response_format not strings; speed not a number (a
     boolean is not a number);
   - input or instructions longer than 4096 characters (Unicode code points);
   - speed outside [0.25, 4.0];
   - response_format not one of mp3, opus, aac, flac, wav, pcm;
   - response_format missing or not ``pcm``, unless ``--allow-any-format``.
4. Success: 200, ``Transfer-Encoding: chunked`` (framed by hand), ``Content-Type: audio/pcm``
   (or ``audio/pcm;rate=N``), ``X-Request-Id: req_mock_NNNN``.  The body is the same whatever
   response_format says (see ``--wav-header`` / ``--content-type`` to fake other containers).
   HTTP/1.0 clients get the body unframed, then the connection is closed.

Options
-------
--port N                 TCP port on 127.0.0.1; 0 (default) picks an ephemeral one.
--base PATH              API base path (default ``/v1``): the endpoint is ``PATH/audio/speech``.
--expect-key KEY         Require ``Authorization: Bearer KEY`` (otherwise any or none is accepted).
--allow-any-format       Accept any valid response_format, or none (default: only ``pcm``).
--verbose                Log each request and stream outcome to stderr.

Audio body:
--pcm FILE               Send FILE's bytes for every request (instead of synthesising).
--rate HZ                Sample rate of synthesised audio and of the WAV header (default 24000).
--ms-per-char MS         Synth length per input character (default 30; float), minimum 100 ms.
                         Synth: s16le mono; samples = max(rate // 10, round(rate * MS * chars /
                         1000)); bytes = random.Random(int.from_bytes(sha256(input UTF-8,
                         surrogatepass).digest(), "big")).randbytes(2 * samples), with each
                         sample's high byte b replaced by (b % 92) - 46, so every sample is in
                         [-11776, 11775]; never all zero.  Deterministic per input text.
--wav-header             Prefix the body with a 44-byte RIFF/WAVE header (PCM, mono, --rate,
                         16 bit) whose RIFF and data sizes are 0xFFFFFFFF (streamed WAV).
--content-type-rate N    Send ``Content-Type: audio/pcm;rate=N`` instead of ``audio/pcm``.
--content-type VALUE     Send exactly this Content-Type on success (overrides the two above).
--empty                  Answer 200 with an empty chunked body (no WAV header either).
--speed-range LO,HI      A server that takes speed only within [LO, HI] (Kokoro: 1,2): outside, 422 in
                         FastAPI/pydantic's shape, e.g. {"detail":[{"type":"less_than_equal","loc":["body",
                         "speed"],"msg":"Input should be less than or equal to 2","input":3,"ctx":{"le":2.0}}]}
                         (greater_than_equal / ge below); within, synthesised audio lasts natural / speed
                         (--ms-per-char divided by speed).
--ignore-speed           A server that ignores speed: the audio lasts the natural length at any speed
                         (also what the mock does without --speed-range).

Labels and containers (what self-hosted servers send; see encode_body):
--format F               pcm (default), l16 (big-endian, ``audio/L16;rate=R;channels=N``), wav (streamed
                         0xFFFFFFFF sizes, ``audio/wav``), mp3 (lame, ``audio/mpeg``), opus (opusenc, Ogg,
                         ``audio/ogg``), flac (flac, ``audio/flac``).  Compressed bodies are encoded from the
                         synthesised PCM; the request log's .pcm still holds that PCM (s16le, interleaved).
--channels N             Channels of the synthesised audio (default 1): each channel gets the same signal.
--tone HZ                Synthesise a sine of HZ (amplitude 8000) instead of noise (for pitch checks).
--amplitude PEAK         The --tone sine's peak (default 8000; a 1 kHz sine at PEAK measures 20·log10(PEAK/32768) − 3 LUFS).
--word-gap MS            Make word boundaries known: each word of the input (split at white space) its own burst
                         of noise (--ms-per-char per character), with MS of digital silence between words.
--rate-header NAME       Also state the rate in response header NAME (e.g. X-Sample-Rate).
--channels-header NAME   Also state the channel count in response header NAME.
--no-content-type        Send no Content-Type at all.
--voice-format           Let a request's voice choose the above, for a whole matrix from one mock:
                         ``FORMAT|RATE|CHANNELS[|CONTENT-TYPE[|RATE-HEADER[|CHANNELS-HEADER]]]``, where
                         CONTENT-TYPE may hold {rate} and {channels}, is ``-`` for none and empty for the
                         format's own (e.g. ``pcm|22050|2|audio/raw|X-Sample-Rate|X-Channels``).

Streaming shape (byte counts below count body bytes, WAV header included):
--chunks A,B,C           Chunk sizes, cycled (default 4800).  Consecutive chunks are coalesced
                         into socket writes of up to 64 KiB unless --chunk-delay is set; the
                         chunk framing is always exactly as given.  TCP_NODELAY is set.
--first-bytes N          With --hold: send the first N body bytes (a chunk straddling N is
                         split there), then pause.  Default 0 = pause right after the headers.
                         If the body is shorter than N, the pause comes before the final chunk.
--hold SECONDS           Length of that pause.
--chunk-delay SECONDS    Sleep between consecutive chunks (each chunk is flushed on its own).
--header-delay SECONDS   Sleep before sending the response headers (time to first byte).
--ttfb-per-char MS       Also sleep MS per input character before the headers (a server that synthesizes the
                         first chunk from the whole input: time to first byte grows with its length).

Connections:
--tls-cert PEM --tls-key PEM   Serve HTTPS with this certificate (handshake on the connection's thread).
--idle-close SECONDS     Close a keep-alive connection idle this long (uvicorn's default is 5 s).
--cut-after N            Send N body bytes (complete chunks; one straddling N is shortened),
                         then shut the socket down (FIN) without the terminating chunk.
                         N >= body length: the whole body, still without the terminator.
--stall-after N          Send N body bytes, then send nothing more until the client disconnects
                         or the server stops.  With both --cut-after and --stall-after the
                         smaller N wins (a tie is a cut).
                         All pauses end early if the client disconnects (checked every 0.2 s).

Errors:
--status CODE            Answer every request with CODE and --error-body (Content-Type
                         application/json, Content-Length).  Without --error-body an
                         OpenAI-style body suited to CODE is used (429 -> rate_limit_exceeded,
                         5xx -> server_error, ...).
--error-body JSON        The exact error body text to send (not checked to be JSON).
--retry-after SECONDS    Add ``Retry-After: SECONDS`` to injected error responses.
--validate-before-error  Validate first: invalid requests get their 4xx, only valid ones get
                         the injected error (and count towards --fail-first).
--fail-first K           Inject the error only for the first K requests (that reach the
                         injection point), then answer normally.  --status defaults to 500.
--faults-first K         Apply the stream faults (--empty, --cut-after, --stall-after,
                         --header-delay, --hold) only to the first K successful requests; later
                         ones stream normally (a fault followed by recovery).

Server description (for ``speakctl upstream check``):
--models A,B             Answer ``GET <base>/models`` with OpenAI's list ``{"object":"list","data":[{"id":"A"},..]}``.
--voices A,B             Answer ``GET <base>/audio/voices`` with Kokoro-FastAPI's ``{"voices":["A",..]}``.
--speed-range LO,HI      (see above) the range a server accepts, probed by the doctor.
--header 'NAME: VALUE'   Add this header to every audio answer (repeatable), e.g. a rate header of the server's own.

Request log:
--log DIR                For every request (errors included; DIR is created) write
                         ``DIR/req-NNNN.json`` (NNNN = 1-based request number, 4 digits):
                         {"request": n, "method", "path" (as sent, with query), "headers":
                         {lowercased name: value, repeats joined with ", "}, "body": parsed JSON
                         or null, "raw_body": UTF-8 text (invalid bytes replaced), "status",
                         "error": message or null, "connection": per-TCP-connection serial
                         (1-based), "outcome", "bytes_sent"}.  On success ``DIR/req-NNNN.pcm``
                         holds exactly the audio bytes that the body will carry (WAV header
                         excluded; only the first N bytes' worth with --cut-after/--stall-after).
                         The .pcm and then the .json are written (temp file + os.replace)
                         before the response is sent.  When a stream ends the .json is
                         rewritten with the final "outcome" ("complete", "cut",
                         "stalled" + how it ended, "client_disconnected", "server_stopped") and
                         "bytes_sent" (body bytes written to the socket, framing excluded).
                         Error responses have outcome "error".
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import itertools
import json
import math
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from http import HTTPStatus
from urllib.parse import urlsplit

PROPERTIES = ("model", "input", "instructions", "voice", "response_format", "speed")
REQUIRED = ("model", "input", "voice")
STRING_PROPERTIES = ("model", "input", "instructions", "voice", "response_format")
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MAX_CHARS = 4096
MAX_BODY = 16 * 1024 * 1024
WRITE_BATCH = 64 * 1024
POLL = 0.2

STOP = threading.Event()

# High byte of each synthesised sample: 0..255 -> -46..45 (two's complement byte).
_HIGH_BYTE = bytes(((b % 92) - 46) & 0xFF for b in range(256))


def synth(text: str, rate: int, ms_per_char: float) -> bytes:
    samples = max(rate // 10, round(rate * ms_per_char * len(text) / 1000.0))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    raw = random.Random(int.from_bytes(digest, "big")).randbytes(2 * samples)
    out = bytearray(raw)
    out[1::2] = raw[1::2].translate(_HIGH_BYTE)
    if out.count(0) == len(out):
        out[0] = 1
    return bytes(out)


def synth_audio(text: str, opts, speed: float = 1.0) -> bytes:
    """The request's PCM: noise (synth) or a --tone sine, with --channels copies of each sample interleaved; it lasts
    natural / `speed`."""
    ms_per_char = opts.ms_per_char / speed
    if getattr(opts, "word_gap", None) and not opts.tone and text.split():
        gap = bytes(2 * round(opts.rate * opts.word_gap / speed / 1000.0))
        data = gap.join(synth(word, opts.rate, ms_per_char)[:2 * round(opts.rate * ms_per_char * len(word) / 1000.0)]
                        for word in text.split())
    elif opts.tone:
        frames = max(opts.rate // 10, round(opts.rate * ms_per_char * len(text) / 1000.0))
        mono = [round(opts.amplitude * math.sin(2 * math.pi * opts.tone * i / opts.rate)) for i in range(frames)]
        data = struct.pack("<%dh" % frames, *mono)
    else:
        data = synth(text, opts.rate, ms_per_char)
    if opts.channels == 1:
        return data
    return b"".join(data[i:i + 2] * opts.channels for i in range(0, len(data), 2))


ENCODERS = {
    "mp3": lambda o: ["lame", "--quiet", "-r", "-s", str(o.rate / 1000), "--signed", "--little-endian",
                      "--bitwidth", "16", "-m", "m" if o.channels == 1 else "j", "-b", "128", "-", "-"],
    "opus": lambda o: ["opusenc", "--quiet", "--raw", "--raw-rate", str(o.rate), "--raw-chan", str(o.channels),
                       "--raw-bits", "16", "-", "-"],
    "flac": lambda o: ["flac", "--silent", "--force-raw-format", "--endian=little", "--sign=signed",
                       "--channels=%d" % o.channels, "--bps=16", "--sample-rate=%d" % o.rate, "-o", "-", "-"],
}
_ENCODED = {}


def encode_body(audio: bytes, opts) -> tuple[bytes, str]:
    """(body, Content-Type) for --format, from s16le interleaved PCM."""
    fmt, rate, ch = opts.format, opts.rate, opts.channels
    if fmt == "l16":
        swapped = bytearray(len(audio))
        swapped[0::2], swapped[1::2] = audio[1::2], audio[0::2]
        return bytes(swapped), f"audio/L16;rate={rate};channels={ch}"
    if fmt == "wav":
        return wav_header(rate, ch) + audio, "audio/wav"
    if fmt in ENCODERS:
        key = (fmt, rate, ch, hashlib.sha256(audio).digest())
        if key not in _ENCODED:
            import subprocess
            _ENCODED[key] = subprocess.run(ENCODERS[fmt](opts), input=audio, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           check=True).stdout
        ctype = {"mp3": "audio/mpeg", "opus": "audio/ogg", "flac": "audio/flac"}[fmt]
        return _ENCODED[key], ctype
    return audio, "audio/pcm"


def voice_options(opts, voice: str):
    """--voice-format: the options a voice like ``mp3|44100|2`` asks for (see the module's docstring)."""
    if not opts.voice_format or "|" not in voice:
        return opts
    fields = voice.split("|") + [""] * 6
    fmt, rate, channels = fields[0], int(fields[1]), int(fields[2])
    ctype = fields[3].replace("{rate}", str(rate)).replace("{channels}", str(channels))
    return argparse.Namespace(**{**vars(opts), "format": fmt, "rate": rate, "channels": channels,
                                 "content_type": ctype or None, "no_content_type": ctype == "-",
                                 "rate_header": fields[4] or None, "channels_header": fields[5] or None})


def wav_header(rate: int, channels: int = 1) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 0xFFFFFFFF, b"WAVE",
        b"fmt ", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16,
        b"data", 0xFFFFFFFF,
    )


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def mask_key(key: str) -> str:
    if len(key) <= 8:
        return key
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


def parse_json(raw: bytes):
    return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)


class ApiError(Exception):
    def __init__(self, status, message, param=None, code=None, etype="invalid_request_error",
                 headers=None, close=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.etype = etype
        self.headers = headers or {}
        self.close = close

    def body(self) -> bytes:
        return json.dumps({"error": {"message": self.message, "type": self.etype,
                                     "param": self.param, "code": self.code}}).encode()


class PydanticError(ApiError):
    """A FastAPI validation error (Kokoro-FastAPI's shape): ``{"detail":[{"type","loc","msg","input","ctx"}]}``."""

    def __init__(self, status, text, message):
        super().__init__(status, message)
        self.text = text

    def body(self) -> bytes:
        return self.text.encode()


def default_error_body(status: int) -> bytes:
    if status == 429:
        err = {"message": "Rate limit reached for requests (mock upstream).",
               "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    elif status == 401:
        err = {"message": "Incorrect API key provided (mock upstream).",
               "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    elif status == 503:
        err = {"message": "The engine is currently overloaded, please try again later.",
               "type": "server_error", "param": None, "code": None}
    elif status >= 500:
        err = {"message": "The server had an error while processing your request. Sorry about that!",
               "type": "server_error", "param": None, "code": None}
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        err = {"message": f"{phrase} (mock upstream).", "type": "invalid_request_error",
               "param": None, "code": None}
    return json.dumps({"error": err}).encode()


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.injected = 0
        self.stream_faults = 0
        self.pcm = None
        if opts.pcm is not None:
            with open(opts.pcm, "rb") as f:
                self.pcm = f.read()
        base = "/" + opts.base.strip("/") if opts.base.strip("/") else ""
        self.endpoint = base + "/audio/speech"
        self.inject_status = opts.status if opts.status is not None else (
            500 if opts.fail_first is not None else None)
        if opts.log:
            os.makedirs(opts.log, exist_ok=True)

    def next_request(self) -> int:
        with self.lock:
            self.requests += 1
            return self.requests

    def next_connection(self) -> int:
        with self.lock:
            self.connections += 1
            return self.connections

    def take_stream_fault(self) -> bool:
        if self.opts.faults_first is None:
            return True
        with self.lock:
            n = self.stream_faults
            self.stream_faults += 1
        return n < self.opts.faults_first

    def should_inject(self) -> bool:
        if self.inject_status is None:
            return False
        if self.opts.fail_first is None:
            return True
        with self.lock:
            n = self.injected
            self.injected += 1
        return n < self.opts.fail_first

    def write_log(self, name: str, data: bytes):
        tmp = os.path.join(self.opts.log, f".{name}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.opts.log, name))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-openai-speech/1.0"

    def version_string(self):
        return self.server_version

    # Any method (GET, PUT, FOO, ...) goes to the same handler so that it can answer 405.
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def setup(self):
        if self.server.state.opts.tls_cert:
            # The TLS handshake on this connection's own thread (not in accept, which would serialise clients).
            self.request.do_handshake()
        if self.server.state.opts.idle_close:
            self.timeout = self.server.state.opts.idle_close  # an idle keep-alive connection is closed, like uvicorn's
        super().setup()
        self.state: State = self.server.state
        self.opts = self.state.opts
        self.conn_no = self.state.next_connection()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format, *args):
        if self.opts.verbose:
            sys.stderr.write(f"mock_upstream [conn {self.conn_no}] {self.address_string()} "
                             f"{format % args}\n")
            sys.stderr.flush()

    # ---------------------------------------------------------------- request

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionResetError("client closed while sending the body")
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ApiError(400, "Malformed chunked request body.", close=True)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if not t:
                            raise ConnectionResetError("client closed while sending trailers")
                        if t in (b"\r\n", b"\n"):
                            return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise ApiError(413, "Request body too large.", close=True)
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    raise ConnectionResetError("client closed while sending the body")
                data += chunk
                self.rfile.readline(1024)  # CRLF after the chunk
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            raise ApiError(400, f"Invalid Content-Length header ({length}).", close=True)
        if n > MAX_BODY:
            raise ApiError(413, "Request body too large.", close=True)
        data = self.rfile.read(n)
        if len(data) < n:
            raise ConnectionResetError("client closed while sending the body")
        return data

    def _listing(self) -> bytes | None:
        """The body for GET <base>/models or <base>/audio/voices when --models / --voices is given."""
        if self.command != "GET":
            return None
        path = urlsplit(self.path).path
        base = self.state.endpoint[:-len("/audio/speech")]
        if path == base + "/models" and self.opts.models is not None:
            return json.dumps({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "mock"}
                                                           for m in self.opts.models]}).encode()
        if path == base + "/audio/voices" and self.opts.voices is not None:
            return json.dumps({"voices": self.opts.voices}).encode()
        return None

    def _validate(self, raw: bytes) -> dict:
        method, path = self.command, self.path
        if method != "POST":
            raise ApiError(405, f"Invalid method for URL ({method} {path})",
                           headers={"Allow": "POST"})
        if urlsplit(path).path != self.state.endpoint:
            raise ApiError(404, f"Invalid URL ({method} {path})")
        key = self.opts.expect_key
        if key is not None:
            auth = self.headers.get("Authorization")
            if auth != f"Bearer {key}":
                if auth is None:
                    given = "<no Authorization header>"
                elif auth.startswith("Bearer "):
                    given = mask_key(auth[len("Bearer "):])
                else:
                    given = mask_key(auth)
                raise ApiError(401, f"Incorrect API key provided: {given}. You can find your "
                               "API key at https://platform.openai.com/account/api-keys.",
                               code="invalid_api_key")
        ctype = self.headers.get("Content-Type")
        if ctype is None or ctype.split(";")[0].strip().lower() != "application/json":
            raise ApiError(400, f"Invalid Content-Type header ({ctype or 'missing'}): "
                           "expected application/json.")
        try:
            body = parse_json(raw)
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This "
                           "likely means you aren't using your HTTP library correctly. The OpenAI "
                           "API expects a JSON payload, but what was sent was not valid JSON.)")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid type for request body: expected an object, but got "
                           f"{json_type(body)} instead.")
        for name in body:
            if name not in PROPERTIES:
                raise ApiError(400, f"Unrecognized request argument supplied: {name}", param=name)
        for name in REQUIRED:
            if name not in body:
                raise ApiError(400, f"Missing required parameter: '{name}'.", param=name)
        for name in STRING_PROPERTIES:
            if name in body and not isinstance(body[name], str):
                raise ApiError(400, f"Invalid type for '{name}': expected a string, but got "
                               f"{json_type(body[name])} instead.", param=name)
        if "speed" in body:
            speed = body["speed"]
            if isinstance(speed, bool) or not isinstance(speed, (int, float)):
                raise ApiError(400, "Invalid type for 'speed': expected a decimal, but got "
                               f"{json_type(speed)} instead.", param="speed")
        for name in ("input", "instructions"):
            if name in body and len(body[name]) > MAX_CHARS:
                raise ApiError(400, f"Invalid '{name}': string too long. Expected a string with "
                               f"maximum length {MAX_CHARS}, but got a string with length "
                               f"{len(body[name])} instead.", param=name)
        if "speed" in body:
            speed = body["speed"]
            if isinstance(speed, float) and not math.isfinite(speed) or speed > 4.0:
                raise ApiError(400, "Invalid 'speed': decimal above maximum value. Expected a "
                               f"value <= 4, but got {speed} instead.", param="speed")
            if speed < 0.25:
                raise ApiError(400, "Invalid 'speed': decimal below minimum value. Expected a "
                               f"value >= 0.25, but got {speed} instead.", param="speed")
        if "speed" in body and self.opts.speed_range is not None:
            self._check_speed_range(body["speed"])
        fmt = body.get("response_format")
        if fmt is not None and fmt not in FORMATS:
            raise ApiError(400, f"Invalid value: '{fmt}'. Supported values are: 'mp3', 'opus', "
                           "'aac', 'flac', 'wav', and 'pcm'.", param="response_format")
        if fmt != "pcm" and not self.opts.allow_any_format:
            got = "none" if fmt is None else f"'{fmt}'"
            raise ApiError(400, f"This mock upstream only serves response_format 'pcm' (got "
                           f"{got}); start it with --allow-any-format to accept any format.",
                           param="response_format")
        return body

    def _check_speed_range(self, speed):
        low, high = self.opts.speed_range
        if low <= speed <= high:
            return
        kind, word, bound = (("less_than_equal", "less", high) if speed > high
                             else ("greater_than_equal", "greater", low))
        shown = int(bound) if float(bound).is_integer() else bound
        item = {"type": kind, "loc": ["body", "speed"],
                "msg": f"Input should be {word} than or equal to {shown}", "input": speed,
                "ctx": {"le" if speed > high else "ge": float(bound)}}
        raise PydanticError(422, json.dumps({"detail": [item]}), f"speed {speed} outside [{low}, {high}]")

    # ---------------------------------------------------------------- logging

    def _log(self, rec: dict, pcm: bytes | None = None):
        if not self.opts.log:
            return
        name = f"req-{rec['request']:04d}"
        if pcm is not None:
            self.state.write_log(name + ".pcm", pcm)
        try:
            text = json.dumps(rec, indent=1, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from \udXXX escapes: keep them escaped
            text = json.dumps(rec, indent=1).encode("ascii")
        self.state.write_log(name + ".json", text + b"\n")

    # ---------------------------------------------------------------- responses

    def _send_fixed(self, status: int, body: bytes, headers: dict, close: bool):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_api_error(self, rec: dict, err: ApiError):
        rec.update(status=err.status, error=err.message, outcome="error")
        self._log(rec)
        self._send_fixed(err.status, err.body(), err.headers, err.close)

    def _send_injected(self, rec: dict):
        status = self.state.inject_status
        body = (self.opts.error_body.encode() if self.opts.error_body is not None
                else default_error_body(status))
        headers = {}
        if self.opts.retry_after is not None:
            headers["Retry-After"] = self.opts.retry_after
        rec.update(status=status, error=f"injected HTTP {status}", outcome="error")
        self._log(rec)
        self._send_fixed(status, body, headers, False)

    def _wait(self, seconds):
        """Sleep `seconds` (None = forever).  Returns None when the time is up, otherwise
        "client_disconnected" or "server_stopped"."""
        deadline = None if seconds is None else time.monotonic() + seconds
        sock = self.connection
        while True:
            if STOP.is_set():
                return "server_stopped"
            timeout = POLL
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                timeout = min(POLL, left)
            try:
                readable, _, _ = select.select([sock], [], [], timeout)
                if readable:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return "client_disconnected"
                    STOP.wait(timeout)  # client sent more data (pipelining); keep waiting
            except (OSError, ValueError):
                return "client_disconnected"

    def _stream(self, req: dict, rec: dict):
        opts = voice_options(self.opts, req.get("voice", ""))
        if not self.state.take_stream_fault():
            opts = argparse.Namespace(**{**vars(opts), "empty": False, "cut_after": None,
                                         "stall_after": None, "header_delay": 0.0, "hold": None})
        if opts.empty:
            header, audio = b"", b""
        else:
            audio = self.state.pcm if self.state.pcm is not None else synth_audio(req["input"], opts, speed=(
                req.get("speed", 1.0) if opts.speed_range is not None and not opts.ignore_speed else 1.0))
            header = wav_header(opts.rate) if opts.wav_header else b""
        body = header + audio
        format_type = None
        if opts.format != "pcm" and audio:
            body, format_type = encode_body(audio, opts)
            header = body[:0]
        limit, ending = len(body), "complete"
        cut, stall = opts.cut_after, opts.stall_after
        if cut is not None and (stall is None or cut <= stall):
            limit, ending = min(cut, len(body)), "cut"
        elif stall is not None:
            limit, ending = min(stall, len(body)), "stall"
        sent_audio = body[len(header):limit] if limit > len(header) else b""
        if format_type is not None:
            sent_audio = audio  # the log keeps the PCM the container was made from

        rec.update(status=200, error=None, outcome="streaming", bytes_sent=0)
        self._log(rec, sent_audio)

        chunked = self.request_version != "HTTP/1.0"
        sent = 0
        outcome = None
        try:
            # Time to first byte: fixed, plus per input character (servers synthesize the first chunk from the whole
            # input before sending anything).
            delay = opts.header_delay + opts.ttfb_per_char / 1000.0 * len(req.get("input", ""))
            if delay:
                outcome = self._wait(delay)
                if outcome:
                    return
            if opts.content_type is not None:
                ctype = opts.content_type
            elif format_type is not None:
                ctype = format_type
            elif opts.content_type_rate is not None:
                ctype = f"audio/pcm;rate={opts.content_type_rate}"
            else:
                ctype = "audio/pcm"
            self.send_response(200)
            if not opts.no_content_type:
                self.send_header("Content-Type", ctype)
            if opts.rate_header:
                self.send_header(opts.rate_header, str(opts.rate))
            if opts.channels_header:
                self.send_header(opts.channels_header, str(opts.channels))
            self.send_header("X-Request-Id", f"req_mock_{rec['request']:04d}")
            for name, value in opts.header:
                self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()

            mv = memoryview(body)
            buf = bytearray()
            buffered = 0  # body bytes in buf

            def flush():
                nonlocal sent, buffered
                if buf:
                    self.wfile.write(buf)
                    buf.clear()
                sent += buffered
                buffered = 0

            hold_at = opts.first_bytes if opts.hold is not None else None
            held = hold_at is None
            sizes = itertools.cycle(opts.chunks)
            pos, rest_of_chunk, first = 0, 0, True
            while pos < limit:
                if not held and pos >= hold_at:
                    flush()
                    held = True
                    outcome = self._wait(opts.hold)
                    if outcome:
                        return
                if rest_of_chunk == 0:
                    rest_of_chunk = next(sizes)
                n = min(rest_of_chunk, limit - pos)
                if not held:
                    n = min(n, hold_at - pos)
                if opts.chunk_delay and not first:
                    flush()
                    outcome = self._wait(opts.chunk_delay)
                    if outcome:
                        return
                if chunked:
                    buf += b"%x\r\n" % n
                    buf += mv[pos:pos + n]
                    buf += b"\r\n"
                else:
                    buf += mv[pos:pos + n]
                buffered += n
                pos += n
                rest_of_chunk -= n
                first = False
                if opts.chunk_delay or len(buf) >= WRITE_BATCH:
                    flush()
            flush()
            if not held:
                held = True
                outcome = self._wait(opts.hold)
                if outcome:
                    return
            if ending == "complete":
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                outcome = "complete"
            elif ending == "cut":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                outcome = "cut"
            else:
                self.close_connection = True
                outcome = "stalled_until_" + (self._wait(None) or "server_stopped")
        except (ConnectionError, OSError):
            self.close_connection = True
            outcome = "client_disconnected"
        finally:
            if outcome in ("client_disconnected", "server_stopped"):
                self.close_connection = True
            rec.update(outcome=outcome or "internal_error", bytes_sent=sent)
            self.log_message("request %d stream %s after %d body bytes",
                             rec["request"], rec["outcome"], sent)
            if not STOP.is_set():
                try:
                    self._log(rec)
                except OSError:
                    pass

    def _handle(self):
        state = self.state
        rec = {
            "request": state.next_request(),
            "method": self.command,
            "path": self.path,
            "headers": {},
            "body": None,
            "raw_body": "",
            "status": None,
            "error": None,
            "connection": self.conn_no,
            "outcome": None,
            "bytes_sent": 0,
        }
        for k, v in self.headers.items():
            k = k.lower()
            rec["headers"][k] = rec["headers"][k] + ", " + v if k in rec["headers"] else v
        try:
            try:
                raw = self._read_body()
            except ApiError as err:
                self._send_api_error(rec, err)
                return
            rec["raw_body"] = raw.decode("utf-8", "replace")
            try:
                rec["body"] = parse_json(raw) if raw else None
            except ValueError:
                pass
            listing = self._listing()
            if listing is not None:
                rec.update(status=200, outcome="complete")
                self._log(rec)
                self._send_fixed(200, listing, {}, False)
                return
            if not self.opts.validate_before_error and state.should_inject():
                self._send_injected(rec)
                return
            try:
                req = self._validate(raw)
            except ApiError as err:
                self._send_api_error(rec, err)
                return
            if self.opts.validate_before_error and state.should_inject():
                self._send_injected(rec)
                return
            self._stream(req, rec)
        except (ConnectionError, OSError):
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(f"mock_upstream: error while handling {client_address}:\n")
        traceback.print_exc()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Mock OpenAI /v1/audio/speech server "
                                "(see the module docstring for details).")

    def chunk_list(text):
        try:
            sizes = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError("expected comma-separated integers")
        if not sizes or any(s <= 0 for s in sizes):
            raise argparse.ArgumentTypeError("chunk sizes must be positive")
        return sizes

    def non_negative(kind):
        def conv(text):
            v = kind(text)
            if v < 0:
                raise argparse.ArgumentTypeError("must be >= 0")
            return v
        return conv

    p.add_argument("--port", type=int, default=0)
    p.add_argument("--base", default="/v1")
    p.add_argument("--expect-key", metavar="KEY")
    p.add_argument("--allow-any-format", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--pcm", metavar="FILE")
    p.add_argument("--rate", type=int, default=24000)
    p.add_argument("--ms-per-char", type=non_negative(float), default=30.0)
    p.add_argument("--wav-header", action="store_true")
    p.add_argument("--content-type-rate", type=int, metavar="N")
    p.add_argument("--content-type", metavar="VALUE")
    p.add_argument("--empty", action="store_true")
    p.add_argument("--format", choices=("pcm", "l16", "wav", "mp3", "opus", "flac"), default="pcm")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--tone", type=float, metavar="HZ")
    p.add_argument("--amplitude", type=float, default=8000, metavar="PEAK")
    p.add_argument("--word-gap", type=non_negative(float), metavar="MS")
    p.add_argument("--rate-header", metavar="NAME")
    p.add_argument("--channels-header", metavar="NAME")
    p.add_argument("--no-content-type", action="store_true")
    p.add_argument("--voice-format", action="store_true")

    def speed_range(text):
        try:
            low, high = (float(x) for x in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError("expected LO,HI (two numbers)")
        if not 0 < low <= high:
            raise argparse.ArgumentTypeError("expected 0 < LO <= HI")
        return (low, high)

    p.add_argument("--speed-range", type=speed_range, metavar="LO,HI")
    p.add_argument("--ignore-speed", action="store_true")
    p.add_argument("--chunks", type=chunk_list, default=[4800])
    p.add_argument("--first-bytes", type=non_negative(int), default=0, metavar="N")
    p.add_argument("--hold", type=non_negative(float), metavar="SECONDS")
    p.add_argument("--chunk-delay", type=non_negative(float), default=0.0, metavar="SECONDS")
    p.add_argument("--header-delay", type=non_negative(float), default=0.0, metavar="SECONDS")
    p.add_argument("--ttfb-per-char", type=non_negative(float), default=0.0, metavar="MS")
    p.add_argument("--tls-cert", metavar="PEM")
    p.add_argument("--tls-key", metavar="PEM")
    p.add_argument("--idle-close", type=non_negative(float), metavar="SECONDS")
    p.add_argument("--cut-after", type=non_negative(int), metavar="N")
    p.add_argument("--stall-after", type=non_negative(int), metavar="N")
    p.add_argument("--status", type=int, metavar="CODE")
    p.add_argument("--error-body", metavar="JSON")
    p.add_argument("--retry-after", metavar="SECONDS")
    p.add_argument("--validate-before-error", action="store_true")
    p.add_argument("--fail-first", type=non_negative(int), metavar="K")
    p.add_argument("--faults-first", type=non_negative(int), metavar="K")
    p.add_argument("--log", metavar="DIR")
    names = lambda text: [n for n in text.split(",") if n]
    p.add_argument("--models", type=names, metavar="A,B")
    p.add_argument("--voices", type=names, metavar="A,B")

    def header(text):
        name, _, value = text.partition(":")
        if not name.strip() or not value.strip():
            raise argparse.ArgumentTypeError("expected 'NAME: VALUE'")
        return name.strip(), value.strip()

    p.add_argument("--header", type=header, action="append", default=[], metavar="'NAME: VALUE'")
    opts = p.parse_args(argv)
    if opts.rate <= 0:
        p.error("--rate must be positive")
    if opts.status is not None and not 100 <= opts.status <= 599:
        p.error("--status must be an HTTP status code")
    if opts.first_bytes and opts.hold is None:
        p.error("--first-bytes needs --hold")
    return opts


def main():
    opts = parse_args()
    server = Server(("127.0.0.1", opts.port), Handler)
    server.state = State(opts)
    if opts.tls_cert:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(opts.tls_cert, opts.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    while not STOP.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)  # handler threads may be blocked on idle keep-alive sockets


if __name__ == "__main__":
    main()
