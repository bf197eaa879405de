"""Embedding on a Ray cluster (`qa index --ray [ADDRESS]`, the `cluster` extra).

A build is almost all embedding; everything else (reading documents, BM25, writing the
index) stays in the process that builds. The texts a build has not embedded before go to
Ray Data, which runs `map_batches` on a pool of actors, each loading the same model and
checking its fingerprint against the builder's; their vectors come back tagged with
their row and land in place, so the index is the one a local build writes.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qa.errors import ModelError, QAError

if TYPE_CHECKING:
    import numpy as np

    from qa.embedding.modelfiles import ModelInfo

BATCH = 64  # texts per Ray Data batch (each actor embeds it in its own smaller batches)
REACH_SECONDS = 5
INSTALL_HINT = "install it with pip install 'ray[data]' (or qa's cluster extra: pip install -e '.[cluster]' in its folder)"


class EmbedBatch:
    """A Ray Data actor: loads the model once, then embeds batches of {"row", "text"}."""

    def __init__(self, model: str | None, fingerprint: str) -> None:
        from qa.embedding.model import embedding_model
        from qa.embedding.modelfiles import resolve_model_info

        info = resolve_model_info(model)
        if info.fingerprint != fingerprint:
            raise ModelError(f"the model at {info.path} on this worker is not the builder's ({info.fingerprint} vs {fingerprint})")
        self._embedder = embedding_model(info)  # as a local build chooses: the ONNX export on a CPU, torch on a GPU

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._embedder.encode([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": vectors}


def connect(address: str | None) -> Any:
    """Ray, connected: to the cluster at `address`, else to $RAY_ADDRESS's, else to a Ray
    runtime started here on this machine's cores. Raises QAError without Ray or a cluster."""
    try:
        import ray
        import ray.data  # the extra brings it; plain `ray` does not
    except ImportError:
        raise QAError(f"qa index --ray needs Ray Data: {INSTALL_HINT}") from None
    if not ray.is_initialized():
        reachable(address or os.environ.get("RAY_ADDRESS"))
        # Ray's own notes (execution plans, progress, a worker's failure with its stack
        # trace) would interleave with the build's progress line: a failure reaches the
        # user as one line, from encode_on_ray.
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        try:
            ray.init(address=address or None, include_dashboard=False, logging_level=logging.CRITICAL, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise QAError(f"cannot reach the Ray cluster at {address or 'this machine'}: {str(e).splitlines()[0]}") from None
    return ray


def reachable(address: str | None) -> None:
    """Raise QAError unless `address` ("host:port" or "ray://host:port"; None or "auto":
    none to check) accepts a connection: Ray itself retries an unreachable address for
    minutes, printing its retries."""
    if not address or address == "auto" or address.startswith("local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        raise QAError(f"a Ray cluster's address is HOST:PORT (or ray://HOST:PORT), not {address!r}")
    try:
        socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=REACH_SECONDS).close()
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise QAError(f"cannot reach the Ray cluster at {address}: {reason} (is `ray start --head` running there?)") from None


def encode_on_ray(
    texts: Sequence[str],
    info: ModelInfo,
    model: str | None,
    *,
    address: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """L2-normalised vectors of `texts`, in order, embedded by actors of a Ray cluster.

    `model` is what each worker resolves (None: the bundled model, which every worker
    has once qa is installed there; else a folder at the same path on every worker);
    `info` is the builder's, whose fingerprint every worker's copy must match.
    """
    import numpy as np

    ray = connect(address)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    actors = gpus or max(1, int(resources.get("CPU", 1)))
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the build's progress line says how far it is
    context.print_on_execution_start = False
    # Longest first, as a local build batches, so each batch holds texts of like length.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    rows = ray.data.from_items([{"row": i, "text": texts[i]} for i in order], override_num_blocks=max(1, min(len(texts) // BATCH, 4 * actors)))
    with warnings.catch_warnings():
        # max_restarts=0 is how Ray's own actor pool code says to turn restarts off (else its
        # core warns on stderr about restarting actors); its map_batches flags any such
        # argument as deprecated, with no named replacement yet (Ray 2.60).
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        embedded = rows.map_batches(
            EmbedBatch,
            fn_constructor_kwargs={"model": model, "fingerprint": info.fingerprint},
            batch_size=BATCH,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
            num_gpus=1 if gpus else 0,
            num_cpus=0 if gpus else 1,
            max_restarts=0,  # a worker that dies fails the build, which says so; the index in use stays
        )
    out = np.zeros((len(texts), 0), np.float32)
    done = 0
    try:
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            if out.shape[1] == 0:
                out = np.zeros((len(texts), batch["vector"].shape[1]), np.float32)
            out[batch["row"]] = batch["vector"]
            done += len(batch["row"])
            if on_progress is not None:
                on_progress(done, len(texts))
    except ray.exceptions.RayError as e:  # a worker's error (its model differs, it died) arrives wrapped
        cause = getattr(e, "cause", None) or e
        last = re.sub(r"^[\w.]+(Error|Exception): ", "", str(cause).strip().splitlines()[-1])  # the worker's own message
        raise QAError(f"embedding on the Ray cluster failed: {last[:300]}") from None
    if done != len(texts):
        raise QAError(f"the Ray cluster returned {done} vectors for {len(texts)} texts")
    return out
