# Generated from source/lab2_1_vllm_deployment/04-Production_Deployment.ipynb by `python -m autograder build`: do not edit here,
# edit the instructor notebook and rebuild.

# --- cell: setup_production ---
# Shared by the exercises of this notebook: the standard library only (no vLLM, no model here).
import codecs
import json
import math
import re
from typing import Iterable


class StreamError(RuntimeError):
    """The server reported an error inside a stream (an `event: error`, or a JSON object with an "error" key)."""

# --- cell: sse_parser ---
def parse_chat_stream(chunks) -> dict:
    """Reassemble an OpenAI chat-completion stream (Server-Sent Events, as vLLM sends it) into one result.

    chunks: the response body in the pieces the network delivered: ``bytes`` (UTF-8) or ``str``.
        A piece may end anywhere: inside a line, between "\\r" and "\\n", inside a multi-byte character.

    SSE rules (WHATWG HTML standard, "Server-sent events"):
      * a line ends with "\\r\\n", "\\n" or "\\r" (nothing else ends a line);
      * an empty line dispatches the event collected so far;
      * "field: value" lines: one space after the colon is dropped; the "data" lines of one event are
        joined with "\\n"; "event" sets the event type; other fields ("id", "retry") are ignored;
      * a line starting with ":" is a comment.
    Each event's data is one JSON ``chat.completion.chunk``; the data "[DONE]" ends the stream (anything
    after it is not read).

    Returns a dict:
      text           str         the content of choice 0 (the concatenated ``delta.content``; null is "")
      texts          dict        {choice index: content} for every choice index seen
      role           str | None  the first ``delta.role`` seen
      finish_reason  str | None  choice 0's ``finish_reason`` (the last non-null one)
      finish_reasons dict        {choice index: finish_reason or None}
      usage          dict | None the last non-null ``usage`` object (sent with stream_options.include_usage)
      num_chunks     int         how many JSON events were read ("[DONE]" is not one)
      done           bool        whether "data: [DONE]" was seen

    Raises StreamError (with the server's message) for an event of type "error" or a JSON object that
    has an "error" key (how vLLM reports a failure in the middle of a stream).
    """
    result = {"text": "", "texts": {}, "role": None, "finish_reason": None, "finish_reasons": {},
              "usage": None, "num_chunks": 0, "done": False}
    decoder = codecs.getincrementaldecoder("utf-8")()
    eol = re.compile(r"\r\n|\r|\n")
    buffer, data, event_type, skip_lf = "", [], "", False

    def dispatch(payload: str, kind: str) -> None:
        if kind == "error":
            try:
                err = json.loads(payload)
            except ValueError:
                err = payload
            raise StreamError(_error_message(err))
        obj = json.loads(payload)
        if isinstance(obj, dict) and "error" in obj:
            raise StreamError(_error_message(obj))
        result["num_chunks"] += 1
        for choice in obj.get("choices") or []:
            index = int(choice.get("index", 0))
            delta = choice.get("delta") or {}
            result["texts"].setdefault(index, "")
            result["finish_reasons"].setdefault(index, None)
            if result["role"] is None and delta.get("role"):
                result["role"] = delta["role"]
            if delta.get("content"):
                result["texts"][index] += delta["content"]
            if choice.get("finish_reason") is not None:
                result["finish_reasons"][index] = choice["finish_reason"]
        if obj.get("usage") is not None:
            result["usage"] = obj["usage"]

    def feed(line: str) -> bool:
        """Handle one line; True when the stream is over ([DONE])."""
        nonlocal data, event_type
        if line == "":
            if data:
                payload, kind = "\n".join(data), event_type or "message"
                data, event_type = [], ""
                if payload == "[DONE]":
                    result["done"] = True
                    return True
                dispatch(payload, kind)
            event_type = ""
            return False
        if line.startswith(":"):
            return False
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        return False

    def finish() -> dict:
        result["text"] = result["texts"].get(0, "")
        result["finish_reason"] = result["finish_reasons"].get(0)
        return result

    for chunk in chunks:
        text = decoder.decode(bytes(chunk)) if isinstance(chunk, (bytes, bytearray, memoryview)) else str(chunk)
        if not text:
            continue
        if skip_lf and text.startswith("\n"):
            text = text[1:]
        buffer += text
        start = 0
        for m in eol.finditer(buffer):
            if feed(buffer[start:m.start()]):
                return finish()
            start = m.end()
        # a line ended by a "\r" at the very end: a "\n" at the start of the next piece belongs to it
        skip_lf = 0 < start == len(buffer) and buffer[-1] == "\r"
        buffer = buffer[start:]
    return finish()                   # an event not closed by an empty line is dropped (SSE rule)


def _error_message(err) -> str:
    """The server's message from {"error": {"message": ...}}, {"message": ...} or a bare string."""
    if isinstance(err, dict):
        inner = err.get("error", err)
        if isinstance(inner, dict):
            return str(inner.get("message", inner))
        return str(inner)
    return str(err)
