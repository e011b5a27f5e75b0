"""Deterministic generator of the training corpus shipped with labkit.

The tiny models of ``labkit.models`` are trained on this text. Every sentence below was
written for this course (no third-party text), and the generator only recombines them with a
fixed seed, so the output is reproducible byte for byte:

    python labkit/data/corpus/generate.py      # rewrites en.txt, zh.txt, chat.txt

Each output file holds one document per line. ``chat.txt`` documents are already rendered in
the tiny tokenizer's chat format (``[INST] question [/INST] answer``), so the models learn to
answer and then stop. Numbers in the templated sentences are computed, so they are correct.

The text is deliberately low in entropy, so that a model trained for a few seconds produces
fluent sentences: within a topic the sentences always come in the same order (a document is a
contiguous run of them), and a chat answer is determined by the topic of the question.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

SEED = 20250
HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------- English facts, by topic
EN_TOPICS: dict[str, list[str]] = {
    "the KV cache": [
        "The KV cache stores the keys and values of every past token, so the model does not recompute them at each step.",
        "During decoding the model reads the whole KV cache once for every new token.",
        "The KV cache grows linearly with the sequence length and with the batch size.",
        "For long prompts the KV cache can use more memory than the model weights.",
        "Grouped-query attention shares one key-value head between several query heads, which shrinks the KV cache.",
        "A smaller KV cache leaves room for more concurrent requests on the same GPU.",
        "Storing the KV cache in eight-bit precision halves its memory compared with sixteen-bit precision.",
        "When the KV cache is full, the scheduler must wait, preempt a request, or swap blocks out.",
    ],
    "PagedAttention": [
        "PagedAttention stores the KV cache in fixed-size blocks instead of one contiguous buffer per request.",
        "A block table maps the logical blocks of a sequence to physical blocks in GPU memory.",
        "With paged memory a sequence wastes less than one block, because only its last block can be partly empty.",
        "Static pre-allocation reserves memory for the maximum length, even when most requests are short.",
        "The block manager hands out free blocks and takes them back when a request finishes.",
        "Two sequences that share a prompt prefix can point to the same physical blocks.",
        "Copy-on-write lets a shared block stay shared until one of the sequences needs to change it.",
        "A free block list makes allocation and release cheap operations.",
        "The block size is a trade-off between wasted memory and the overhead of many small blocks.",
    ],
    "continuous batching": [
        "Continuous batching adds new requests to the running batch as soon as other requests finish.",
        "With static batching the whole batch waits for its longest request.",
        "The scheduler decides at every step which requests run and which ones wait.",
        "A waiting queue holds requests that have arrived but have no KV cache blocks yet.",
        "Iteration-level scheduling keeps the GPU busy when requests have very different lengths.",
        "Preemption frees the blocks of a running request so that others can make progress.",
        "A preempted request is either recomputed later or its blocks are swapped to CPU memory.",
        "The scheduler limits the number of tokens per step so that one long prompt does not stall everyone.",
    ],
    "the split between prefill and decode": [
        "Prefill processes all prompt tokens in one forward pass and fills the KV cache.",
        "Decode produces one new token per step for every running sequence.",
        "Prefill is limited by compute, while decode is limited by memory bandwidth.",
        "Chunked prefill splits a long prompt into pieces that share steps with decoding requests.",
        "The time to first token mostly depends on the prefill of the prompt.",
        "The time per output token mostly depends on how fast the weights and the KV cache are read.",
        "Batching many sequences in decode reuses each weight read for more tokens.",
        "Arithmetic intensity is the number of operations per byte moved from memory.",
    ],
    "speculative decoding": [
        "Speculative decoding lets a small draft model propose several tokens that the large target model checks in one pass.",
        "The target model accepts the longest prefix of draft tokens that agrees with its own distribution.",
        "With rejection sampling, speculative decoding keeps exactly the output distribution of the target model.",
        "The acceptance rate measures how often the target model agrees with the draft model.",
        "A draft model that is fast and agrees often gives the largest speedup.",
        "Every verification step emits at least one token, even when the first draft token is rejected.",
        "When a draft token is rejected, a corrected token is sampled from the residual distribution.",
        "Speculative decoding helps most when decoding is memory-bound and the batch is small.",
    ],
    "quantization": [
        "Quantization stores weights with fewer bits, which reduces memory use and memory traffic.",
        "Eight-bit weights need half the memory of sixteen-bit weights.",
        "Four-bit formats such as NF4 keep a scale for every small block of weights.",
        "Blockwise quantization limits the damage of a single large weight to its own block.",
        "Outlier features make activation quantization harder than weight quantization.",
        "A quantized model should be evaluated for quality, not only for speed.",
        "Weight-only quantization speeds up decode because decode mostly reads weights.",
    ],
    "sampling": [
        "Greedy decoding always picks the token with the highest probability.",
        "Temperature divides the logits before the softmax, so a low temperature makes the distribution sharper.",
        "Top-k sampling keeps only the k most likely tokens before sampling.",
        "Top-p sampling keeps the smallest set of tokens whose probabilities add up to at least p.",
        "A repetition penalty lowers the logits of tokens that already appeared.",
        "A fixed random seed makes sampling reproducible.",
        "A stop token or a maximum length ends the generation of a sequence.",
    ],
    "serving metrics": [
        "Throughput counts the tokens a server produces per second across all requests.",
        "Latency is the time a single user waits for an answer.",
        "The time to first token tells how long a user waits before the answer starts.",
        "The time per output token tells how fast the answer streams after the first token.",
        "Tail latency, such as the 99th percentile, matters more to users than the mean.",
        "Larger batches raise throughput but can also raise the latency of each request.",
        "A benchmark should report the median of several repeated runs.",
        "Measurements should compare against a baseline run on the same machine.",
    ],
    "the serving API": [
        "An OpenAI-compatible API lets existing clients talk to a self-hosted model.",
        "Streaming sends tokens to the client as server-sent events while they are generated.",
        "A request with invalid parameters should get a clear error with status code 400.",
        "The server should free the KV cache of a request when the client disconnects.",
        "A chat template turns a list of messages into the prompt that the model expects.",
        "An asynchronous web server can keep many streaming connections open at once.",
        "Every response reports how many prompt tokens and completion tokens were used.",
    ],
    "production deployment": [
        "A health check tells the load balancer whether a server instance is ready.",
        "A request queue absorbs bursts of traffic that the servers cannot take at once.",
        "Rate limiting protects the service from a single client that sends too many requests.",
        "Autoscaling adds replicas when the queue grows and removes them when traffic drops.",
        "A rolling update replaces servers one at a time so that the service stays available.",
        "Authentication with API keys or tokens controls who may use the model.",
        "Timeouts make sure that a stuck request does not hold resources forever.",
    ],
    "monitoring": [
        "Prometheus scrapes metrics from every server at a fixed interval.",
        "A histogram of request latency shows the percentiles that matter to users.",
        "The number of running and waiting requests shows whether the server is overloaded.",
        "KV cache usage close to one hundred percent means new requests will have to wait.",
        "Alerts should fire on symptoms that users feel, such as high latency or errors.",
        "Dashboards help an operator see how a change in configuration affects throughput.",
        "Tuning the maximum batch size trades latency against throughput.",
    ],
    "attention kernels": [
        "FlashAttention computes attention in tiles, so the full attention matrix never goes to slow memory.",
        "Fusing operations into one kernel avoids writing intermediate results to memory.",
        "Memory bandwidth, not compute, usually limits the speed of decoding.",
        "Attention over a long context costs more memory traffic than attention over a short one.",
        "A paged attention kernel reads keys and values through the block table.",
    ],
    "model parallelism": [
        "Tensor parallelism splits each weight matrix across several GPUs.",
        "Pipeline parallelism places different layers on different GPUs.",
        "Tensor parallelism needs fast links between GPUs because they exchange results in every layer.",
        "Data parallelism runs full copies of the model and spreads requests across them.",
        "A model that does not fit on one GPU must be split across several devices.",
    ],
}

EN_PLURAL_TOPICS = {"serving metrics", "attention kernels"}
EN_OPENERS = [
    "This note is about {topic}.",
    "Here is a short explanation of {topic}.",
    "Let us look at {topic}.",
]


def _run(rng: random.Random, sentences: list[str], lo: int, hi: int) -> list[str]:
    """A contiguous run of lo..hi-1 sentences, starting anywhere, wrapping around."""
    start, n = rng.randrange(len(sentences)), rng.randrange(lo, hi)
    return [sentences[(start + i) % len(sentences)] for i in range(min(n, len(sentences)))]


def _numeric_en(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        bs = rng.choice([8, 16, 32])
        n = rng.randrange(5, 400)
        blocks = math.ceil(n / bs)
        return (f"With a block size of {bs} tokens, a sequence of {n} tokens needs {blocks} blocks, "
                f"and its last block holds {n - (blocks - 1) * bs} tokens.")
    if kind == 1:
        k = rng.randrange(2, 8)
        a = rng.randrange(0, k + 1)
        return (f"If the draft model proposes {k} tokens and the target model accepts {a} of them, "
                f"the step emits {a + 1} tokens.")
    bits = rng.choice([16, 8, 4])
    billions = rng.choice([1, 3, 7, 8, 13, 70])
    gb = billions * bits / 8
    gb_s = int(gb) if gb == int(gb) else gb
    return f"A model with {billions} billion parameters needs about {gb_s} GB for its weights at {bits} bits per weight."


def en_document(rng: random.Random) -> str:
    topic = rng.choice(list(EN_TOPICS))
    out = _run(rng, EN_TOPICS[topic], 3, 7)
    if rng.random() < 0.5:
        out.insert(0, rng.choice(EN_OPENERS).format(topic=topic))
    if rng.random() < 0.1:
        out.append(_numeric_en(rng))
    return " ".join(out)


# ---------------------------------------------------------------- Traditional Chinese facts
ZH_TOPICS: dict[str, list[str]] = {
    "KV cache": [
        "KV cache 保存每個過去 token 的 key 與 value，模型不必在每一步重新計算它們。",
        "KV cache 的大小與序列長度和 batch size 成正比。",
        "長 prompt 的 KV cache 可能比模型權重還要佔記憶體。",
        "Grouped-query attention 讓多個 query head 共用一個 key-value head，因此 KV cache 變小。",
        "KV cache 越小，同一張 GPU 就能同時服務越多請求。",
    ],
    "PagedAttention": [
        "PagedAttention 把 KV cache 切成固定大小的 block，而不是為每個請求保留一整段連續記憶體。",
        "block table 記錄每個序列的邏輯 block 對應到哪一個實體 block。",
        "使用分頁記憶體時，每個序列浪費的空間少於一個 block。",
        "靜態預先配置會依最大長度保留記憶體，即使大部分請求都很短。",
        "共用相同 prompt 前綴的序列可以指向同一批實體 block。",
    ],
    "continuous batching": [
        "continuous batching 會在其他請求結束時，立刻把新的請求加入正在執行的 batch。",
        "static batching 必須等整個 batch 中最長的請求完成。",
        "scheduler 在每一步決定哪些請求執行、哪些請求等待。",
        "preemption 會釋放某個請求的 block，讓其他請求可以繼續前進。",
    ],
    "prefill 與 decode": [
        "prefill 在一次 forward pass 中處理所有 prompt token，並填滿 KV cache。",
        "decode 每一步為每個序列產生一個新的 token。",
        "prefill 受限於計算量，而 decode 受限於記憶體頻寬。",
        "time to first token 主要取決於 prompt 的 prefill 時間。",
        "在 decode 階段把多個序列放進同一個 batch，可以讓每次讀取的權重服務更多 token。",
    ],
    "speculative decoding": [
        "speculative decoding 讓小的 draft model 先提出幾個 token，再由大的 target model 一次驗證。",
        "acceptance rate 表示 target model 有多常同意 draft model 的提議。",
        "使用 rejection sampling 時，speculative decoding 的輸出分布與 target model 完全相同。",
        "每一次驗證至少會產生一個 token。",
    ],
    "量化": [
        "量化用更少的位元儲存權重，可以減少記憶體用量與記憶體傳輸量。",
        "八位元權重所需的記憶體是十六位元權重的一半。",
        "NF4 這類四位元格式會為每一小塊權重保留一個縮放係數。",
        "量化後的模型除了速度，也必須評估品質。",
    ],
    "服務指標": [
        "throughput 計算伺服器每秒在所有請求上產生多少 token。",
        "latency 是單一使用者等待答案的時間。",
        "第 99 百分位數這類尾端延遲，比平均值更貼近使用者的感受。",
        "較大的 batch 可以提高 throughput，但也可能增加每個請求的 latency。",
        "benchmark 應該回報多次重複執行的中位數。",
    ],
    "部署與監控": [
        "health check 告訴負載平衡器某個伺服器是否已經準備好。",
        "請求佇列可以吸收伺服器一時無法處理的流量高峰。",
        "Prometheus 會以固定間隔從每台伺服器抓取指標。",
        "KV cache 使用率接近百分之百時，新的請求就必須等待。",
        "告警應該針對使用者感受得到的症狀，例如延遲過高或錯誤增加。",
    ],
}

ZH_OPENERS = ["這一段介紹{topic}。", "接下來說明{topic}。"]


def _tidy_zh(s: str) -> str:
    # spaces separate English terms from Chinese text, but not from full-width punctuation
    for p in "。，？":
        s = s.replace(" " + p, p)
    return s.replace("  ", " ")


def zh_document(rng: random.Random) -> str:
    topic = rng.choice(list(ZH_TOPICS))
    out = [rng.choice(ZH_OPENERS).format(topic=(" " + topic + " ") if topic[0].isascii() else topic)]
    out += _run(rng, ZH_TOPICS[topic], 2, 5)
    return _tidy_zh("".join(out))


# ---------------------------------------------------------------- chat-formatted Q&A
EN_QUESTIONS = [
    "What {is_are} {topic}?",
    "What should I know about {topic}?",
    "Can you explain {topic}?",
    "Why should I care about {topic}?",
    "Tell me about {topic}.",
    "What role does {topic} play in an inference server?",
]
ZH_QUESTIONS = ["什麼是{topic}？", "請解釋{topic}。", "為什麼{topic}對 LLM 推論服務很重要？"]


def chat_document(rng: random.Random) -> str:
    if rng.random() < 0.75:
        topic = rng.choice(list(EN_TOPICS))
        is_are = "are" if topic in EN_PLURAL_TOPICS else "is"
        q = rng.choice(EN_QUESTIONS).format(topic=topic, is_are=is_are)
        a = " ".join(EN_TOPICS[topic][:3])
    else:
        topic = rng.choice(list(ZH_TOPICS))
        q = rng.choice(ZH_QUESTIONS).format(topic=(" " + topic + " ") if topic[0].isascii() else topic)
        q = _tidy_zh(q)
        a = "".join(ZH_TOPICS[topic][:3])
    return f"[INST] {q.strip()} [/INST] {a}"


def generate(seed: int = SEED) -> dict[str, str]:
    """Return {file name: text}; the same seed always gives the same bytes."""
    rng = random.Random(seed)
    sizes = {"en.txt": (en_document, 420), "zh.txt": (zh_document, 170), "chat.txt": (chat_document, 420)}
    return {name: "\n".join(fn(rng) for _ in range(n)) + "\n" for name, (fn, n) in sizes.items()}


def main() -> None:
    for name, text in generate().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(text.encode('utf-8')):,} bytes, {text.count(chr(10)):,} documents")


if __name__ == "__main__":
    main()
