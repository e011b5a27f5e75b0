# keeps a bytes buffer, splits complete lines on CR/LF bytes (UTF-8 never uses those bytes inside a
# character) and decodes whole lines only; a trailing CR waits for the next piece
def parse_chat_stream(chunks) -> dict:
    texts, finishes = {}, {}
    state = {"role": None, "usage": None, "n": 0, "done": False}
    buf = b""
    data_lines, event = [], ""

    def handle_event(payload, kind):
        if kind == "error":
            try:
                body = json.loads(payload)
            except ValueError:
                body = {"message": payload}
            err = body.get("error", body) if isinstance(body, dict) else body
            raise StreamError(err.get("message", str(err)) if isinstance(err, dict) else str(err))
        obj = json.loads(payload)
        if "error" in obj:
            err = obj["error"]
            raise StreamError(err.get("message", str(err)) if isinstance(err, dict) else str(err))
        state["n"] += 1
        for ch in obj.get("choices") or ():
            i = ch.get("index", 0)
            d = ch.get("delta") or {}
            texts[i] = texts.get(i, "") + (d.get("content") or "")
            if ch.get("finish_reason") is not None or i not in finishes:
                finishes[i] = ch.get("finish_reason")
            if state["role"] is None and d.get("role"):
                state["role"] = d["role"]
        if obj.get("usage") is not None:
            state["usage"] = obj["usage"]

    def result():
        return {"text": texts.get(0, ""), "texts": texts, "role": state["role"],
                "finish_reason": finishes.get(0), "finish_reasons": finishes, "usage": state["usage"],
                "num_chunks": state["n"], "done": state["done"]}

    def pieces():
        yield from chunks
        yield b"\n"          # end of stream: a pending final "\r" is a complete line end after all

    for piece in pieces():
        buf += piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
        while True:
            cr, lf = buf.find(b"\r"), buf.find(b"\n")
            ends = [p for p in (cr, lf) if p >= 0]
            if not ends:
                break
            end = min(ends)
            if buf[end:end + 1] == b"\r":
                if end + 1 == len(buf):
                    break                      # maybe "\r\n" split across pieces: wait for the next one
                width = 2 if buf[end + 1:end + 2] == b"\n" else 1
            else:
                width = 1
            line, buf = buf[:end].decode("utf-8"), buf[end + width:]
            if not line:
                if data_lines:
                    payload, kind = "\n".join(data_lines), event or "message"
                    data_lines, event = [], ""
                    if payload == "[DONE]":
                        state["done"] = True
                        return result()
                    handle_event(payload, kind)
                event = ""
            elif line[0] != ":":
                field, colon, value = line.partition(":")
                value = value[1:] if value[:1] == " " else value
                if field == "data":
                    data_lines.append(value)
                elif field == "event":
                    event = value
    return result()
