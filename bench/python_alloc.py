"""An allocation-heavy Python workload for bench/run.py: builds and drops dicts, lists and
strings like a request-processing loop would. Prints the seconds of its timed region."""
import json
import time

start = time.perf_counter()
keep = []
for round_ in range(12):
    rows = [{"id": i, "name": "user-%d" % i, "tags": ["t%d" % (i % 13), "x"], "score": i * 0.5}
            for i in range(60000)]
    text = json.dumps(rows)
    back = json.loads(text)
    index = {r["name"]: r for r in back}
    keep.append(len(index) + len(text))
    del rows, back, index, text
print("%.6f" % (time.perf_counter() - start))
