# decodes incrementally and walks the text one character at a time with a small state machine
def parse_chat_stream(chunks) -> dict:
    out = {"text": "", "texts": {}, "role": None, "finish_reason": None, "finish_reasons": {},
           "usage": None, "num_chunks": 0, "done": False}
    dec = codecs.getincrementaldecoder("utf-8")()
    line, after_cr = [], False
    fields = {"data": [], "event": ""}

    def error_text(err):
        inner = err.get("error", err) if isinstance(err, dict) else err
        return str(inner.get("message", inner)) if isinstance(inner, dict) else str(inner)

    def end_of_line(text):
        if text == "":
            data, kind = fields["data"], fields["event"]
            fields["data"], fields["event"] = [], ""
            if not data:
                return False
            payload = "\n".join(data)
            if payload == "[DONE]":
                out["done"] = True
                return True
            if kind == "error":
                try:
                    raise StreamError(error_text(json.loads(payload)))
                except ValueError:
                    raise StreamError(payload) from None
            obj = json.loads(payload)
            if isinstance(obj, dict) and "error" in obj:
                raise StreamError(error_text(obj))
            out["num_chunks"] += 1
            for c in obj.get("choices") or []:
                idx = c.get("index", 0)
                delta = c.get("delta") or {}
                out["texts"][idx] = out["texts"].get(idx, "") + (delta.get("content") or "")
                out["finish_reasons"].setdefault(idx, None)
                if c.get("finish_reason"):
                    out["finish_reasons"][idx] = c["finish_reason"]
                if out["role"] is None and delta.get("role"):
                    out["role"] = delta["role"]
            if obj.get("usage"):
                out["usage"] = obj["usage"]
            return False
        if text.startswith(":"):
            return False
        if ":" in text:
            name, value = text.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = text, ""
        if name == "data":
            fields["data"].append(value)
        elif name == "event":
            fields["event"] = value
        return False

    stop = False
    for piece in chunks:
        text = piece if isinstance(piece, str) else dec.decode(piece)
        for ch in text:
            if after_cr and ch == "\n":
                after_cr = False
                continue
            after_cr = False
            if ch in "\r\n":
                after_cr = ch == "\r"
                if end_of_line("".join(line)):
                    stop = True
                    break
                line = []
            else:
                line.append(ch)
        if stop:
            break
    out["text"] = out["texts"].get(0, "")
    out["finish_reason"] = out["finish_reasons"].get(0)
    return out
