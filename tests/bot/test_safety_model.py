"""The crisis check's model keeps numpy's BLAS to one thread, in the whole process.

OpenBLAS starts a thread per core, and those threads spin while waiting for work: beside the
channel's event loop on two cores that made every typed message several times slower
(docs/performance.md, issue 13). The limit must hold for the comparisons with the examples too,
which run outside the model's own calls.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A process of its own: the limit is process-wide, and the test must see it set by the load,
# not by another test that loaded the model before.
PROBE = """
import json
from threadpoolctl import threadpool_info
import numpy
before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
from bot.safety_model import ENCODER
vectors = ENCODER.encode(["Ik weet niet of ik dit nog volhoud.", "Ze luistert naar me."])
after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
print(json.dumps({"before": before, "after": after, "shape": list(vectors.shape)}))
"""


def test_loading_the_model_holds_blas_to_one_thread_for_the_process() -> None:
    import json

    env_free = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no OPENBLAS_NUM_THREADS
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env_free,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["shape"] == [2, 512]
    assert seen["after"] and all(n == 1 for n in seen["after"])
    # The machine gives numpy more than one thread by itself, so the load is what limited it
    # (on a one-core machine this part says nothing, and the limit above still holds).
    if _cores() > 1:
        assert max(seen["before"]) > 1


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))
