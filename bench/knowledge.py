"""Benchmark: knowledge-base indexing throughput and vector search latency.

Run ``python -m bench.knowledge`` (``--quick`` for a run under two minutes). It measures:

  (a) indexing end to end as the indexer does it: parse files, chunk (~200 tokens, the
      model's tokenizer), embed with the shipped local model (ONNX int8), upsert into the
      embedded Qdrant Edge store; chunks/s overall and per stage;
  (b) search latency p50/p99 through the shipped VectorStore (exact search) at 10k and
      100k points, without and with a knowledge-base filter (10 % of the points), and
      numpy brute-force top-k on the same vectors in the same run as the baseline;
  (c) recall@10 of what ships against exact numpy results.

The corpus is real English prose (the docstrings of Python's standard library). The
10k/100k search sets are synthetic but shaped like real ones: each point is a real chunk
embedding from (a) plus Gaussian noise, renormalised, so they cluster the way document
embeddings do (pure random vectors are near-orthogonal and flatter the search). Queries are
real embeddings of questions. Results are printed and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from handlers.knowledge.chunking import chunk_sections, token_splitter
from handlers.knowledge.parsers import parse_file
from runtime.embeddings import LocalEmbedder
from runtime.embeddings.tokenizer import count_tokens, load_tokenizer
from runtime.vectors import ChunkPoint, point_id
from runtime.vectors.edge import EdgeVectorStore

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "llmforge-test-models"
QUESTIONS = [
    "How do I parse command line arguments?",
    "What does this function return when the file does not exist?",
    "Convert a string to bytes with an encoding",
    "How are exceptions raised for invalid input?",
    "Read the configuration from an INI file",
    "Compress data with gzip",
    "Thread safety of the queue",
    "Format a date as ISO 8601",
    "Send an email with attachments",
    "How to compare two sequences and show the differences",
]


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50": pick(0.50), "p99": pick(0.99), "max": round(ordered[-1] * 1000, 3)}


def write_corpus(into: Path, target_chunks: int) -> int:
    """Markdown files of stdlib docstrings: one file per module, its docstrings as
    paragraphs under the module's heading, so chunks fill up to the ~200-token budget."""
    into.mkdir(parents=True, exist_ok=True)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    tokens = 0
    files = 0
    for source in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        docs = [
            " ".join(doc.split())
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module)
            and (doc := ast.get_docstring(node))
            and len(doc) > 200
        ]
        if not docs:
            continue
        text = f"# {source.stem}\n\n" + "\n\n".join(docs) + "\n"
        (into / f"{source.stem}.md").write_text(text, encoding="utf-8")
        files += 1
        tokens += count_tokens([text])[0]
        if tokens / 200 >= target_chunks:
            break
    return files


async def index_corpus(
    corpus: Path, store: EdgeVectorStore, embedder: LocalEmbedder, batch: int
) -> dict[str, Any]:
    split = token_splitter(load_tokenizer())
    timings = {"parse": 0.0, "chunk": 0.0, "embed": 0.0, "upsert": 0.0}
    tokens: list[int] = []
    vectors: list[list[float]] = []
    started = time.perf_counter()
    paths = sorted(corpus.glob("*.md"))  # noqa: ASYNC240 - a benchmark, not a server
    for number, path in enumerate(paths):
        t = time.perf_counter()
        sections = parse_file(path, path.name)
        timings["parse"] += time.perf_counter() - t
        t = time.perf_counter()
        chunks = chunk_sections(sections, size=200, overlap=30, count=count_tokens, split=split)
        timings["chunk"] += time.perf_counter() - t
        doc = f"doc{number}"
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            t = time.perf_counter()
            embedded = await embedder.embed([c.embed_text for c in part])
            timings["embed"] += time.perf_counter() - t
            t = time.perf_counter()
            await store.upsert(
                [
                    ChunkPoint(
                        point_id(doc, c.index),
                        v,
                        {"kb_id": "bench", "doc_id": doc, "chunk_index": c.index, "text": c.text},
                    )
                    for c, v in zip(part, embedded, strict=True)
                ]
            )
            timings["upsert"] += time.perf_counter() - t
            tokens += [c.tokens for c in part]
            vectors += embedded
    total = time.perf_counter() - started
    return {
        "chunks": len(tokens),
        "mean_tokens_per_chunk": round(float(np.mean(tokens)), 1),
        "seconds": round(total, 2),
        "chunks_per_s": round(len(tokens) / total, 1),
        "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
        "embed_chunks_per_s": round(len(tokens) / timings["embed"], 1),
        "vectors": vectors,
    }


def synthetic(real: np.ndarray[Any, Any], count: int, seed: int = 7) -> np.ndarray[Any, Any]:
    """Real embeddings plus noise, renormalised: clustered like a real corpus."""
    rng = np.random.default_rng(seed)
    base = real[rng.integers(0, len(real), count)]
    noisy = base + rng.normal(0.0, 0.04, base.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def numpy_top_k(
    matrix: np.ndarray[Any, Any], query: np.ndarray[Any, Any], k: int
) -> np.ndarray[Any, Any]:
    scores = matrix @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


async def search_scale(
    size: int, real: np.ndarray[Any, Any], queries: np.ndarray[Any, Any], rounds: int, work: Path
) -> dict[str, Any]:
    vectors = synthetic(real, size)
    # Two bases: "big" holds 90 % of the points, "small" 10 %. Searching both is a search
    # over everything; searching "small" is the selective knowledge-base filter.
    small = np.arange(size) % 10 == 3
    kb_of = np.where(small, "small", "big")
    root = work / f"search-{size}"
    store = EdgeVectorStore(root)
    t = time.perf_counter()
    for start in range(0, size, 1000):
        await store.upsert(
            [
                ChunkPoint(
                    point_id("p", i),
                    vectors[i].tolist(),
                    {"kb_id": str(kb_of[i]), "doc_id": f"d{i // 50}", "chunk_index": i % 50},
                )
                for i in range(start, min(start + 1000, size))
            ]
        )
    upsert_s = time.perf_counter() - t
    ids = [point_id("p", i) for i in range(size)]
    result: dict[str, Any] = {"points": size, "upsert_s": round(upsert_s, 2)}
    cases = (
        ("all_points", ["big", "small"], None),
        ("kb_90pct", ["big"], np.flatnonzero(~small)),
        ("kb_10pct", ["small"], np.flatnonzero(small)),
    )
    for label, kb_ids, subset in cases:
        # The baseline gets its subset for free: rows gathered once, before timing.
        matrix = vectors if subset is None else np.ascontiguousarray(vectors[subset])
        shipped: list[float] = []
        brute: list[float] = []
        recall: list[float] = []
        for _ in range(rounds):
            for q in queries:
                t = time.perf_counter()
                hits = await store.search(kb_ids, q.tolist(), top_k=10)
                shipped.append(time.perf_counter() - t)
                t = time.perf_counter()
                exact = numpy_top_k(matrix, q, 10)
                if subset is not None:
                    exact = subset[exact]
                brute.append(time.perf_counter() - t)
                truth = {ids[i] for i in exact}
                recall.append(len(truth & {h.id for h in hits}) / 10)
        s, b = percentiles_ms(shipped), percentiles_ms(brute)
        result[label] = {
            "edge_ms": s,
            "numpy_ms": b,
            "p99_ratio_edge_over_numpy": round(s["p99"] / b["p99"], 2) if b["p99"] else None,
            "recall_at_10": round(float(np.mean(recall)), 4),
            "queries": len(shipped),
        }
    await store.close()
    shutil.rmtree(root, ignore_errors=True)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="llmforge-bench-knowledge-"))
    try:
        embedder = LocalEmbedder(args.model_cache, batch_size=32)
        t = time.perf_counter()
        await embedder.embed(["warm up"])  # export (first time only) and load
        load_s = time.perf_counter() - t
        files = write_corpus(work / "corpus", args.chunks)
        store = EdgeVectorStore(work / "index")
        indexing = await index_corpus(work / "corpus", store, embedder, batch=32)
        await store.close()
        real = np.array(indexing.pop("vectors"), dtype=np.float32)
        queries = np.array(await embedder.embed(QUESTIONS), dtype=np.float32)
        indexing["files"] = files
        indexing["model_load_s"] = round(load_s, 2)
        searches = [
            await search_scale(size, real, queries, args.rounds, work) for size in args.sizes
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "benchmark": "knowledge",
        "time": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        # Other work on the machine skews every number; the numpy baseline shares it.
        "load_average": load,
        "mode": "quick" if args.quick else "full",
        "embedding": "all-MiniLM-L6-v2, ONNX int8 (per-channel, fused attention), onnxruntime",
        "vector_store": "Qdrant Edge (qdrant-edge-py), exact search, keyword index on kb_id",
        "search_vectors": "real chunk embeddings + N(0, 0.04) noise, renormalised",
        "indexing": indexing,
        "search": searches,
        "targets": {"indexing_chunks_per_s": 50, "search_p99_ms_at_100k": 20},
    }


def report(result: dict[str, Any]) -> str:
    ix = result["indexing"]
    size = f"{ix['chunks']} chunks of ~{ix['mean_tokens_per_chunk']:.0f} tokens"
    lines = [
        f"Indexing ({ix['files']} files, {size})",
        f"  end to end      {ix['chunks_per_s']:>8.1f} chunks/s  (target >= 50)"
        f"   {ix['seconds']} s",
        f"  embedding only  {ix['embed_chunks_per_s']:>8.1f} chunks/s",
        "  stage seconds   " + ", ".join(f"{k} {v}" for k, v in ix["stage_seconds"].items()),
        f"  model load      {ix['model_load_s']} s (with the one-time ONNX export if not cached)",
        f"  machine load    {result['load_average']} (1/5/15 min, at the start)",
        "",
        "Search top-10        points   edge p50/p99 ms   numpy p50/p99 ms   p99 ratio   recall@10",
    ]
    for scale in result["search"]:
        for label in ("all_points", "kb_90pct", "kb_10pct"):
            r = scale[label]
            edge, brute = r["edge_ms"], r["numpy_ms"]
            lines.append(
                f"  {label:<18} {scale['points']:>7}   {edge['p50']:>6.2f} / {edge['p99']:<6.2f}"
                f"    {brute['p50']:>6.2f} / {brute['p99']:<6.2f}"
                f"     {r['p99_ratio_edge_over_numpy']!s:>6}     {r['recall_at_10']:.3f}"
            )
        lines.append(f"  (upsert of {scale['points']} points: {scale['upsert_s']} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller corpus and fewer rounds")
    parser.add_argument("--model-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--chunks", type=int, default=None, help="indexing corpus size")
    parser.add_argument("--rounds", type=int, default=None, help="passes over the queries")
    args = parser.parse_args(argv)
    args.chunks = args.chunks or (400 if args.quick else 2000)
    args.rounds = args.rounds or (10 if args.quick else 30)
    args.sizes = [10_000, 100_000]
    result = asyncio.run(run(args))
    print(report(result))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"knowledge-{result['mode']}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
