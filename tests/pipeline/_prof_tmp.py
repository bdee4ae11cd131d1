import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, "/work/main/tests/pipeline")
import bench_pipeline

from beacon.pipeline import PipelineOptions
from beacon.pipeline.normalize import NormalizeStats, normalize
from beacon.pipeline.runner import make_context, make_protector
from beacon.spool import read_spool

n = 10000
tmp = Path(tempfile.mkdtemp())
bench_pipeline.write_spool(tmp / "s.jsonl", n)
opts = PipelineOptions(session_id="b", log_path=tmp / "r.jsonl")
recs = [(r.signal, r.payload) for r in read_spool(tmp / "s.jsonl")]
prot = make_protector(opts)
ctx = make_context(opts, prot)
lines = list(normalize(recs, ctx, NormalizeStats()))
t = time.perf_counter()
out = [prot.protect(l) for l in lines]
print((time.perf_counter() - t) / n * 1e6, "us/event protect")
lines = list(normalize(recs, ctx, NormalizeStats()))
prot = make_protector(opts)
cProfile.run("[prot.protect(l) for l in lines]", "/tmp/prof2")
pstats.Stats("/tmp/prof2").sort_stats("tottime").print_stats(14)
