#!/usr/bin/env python3
"""A list-append history for bench/bench_txn.sh: N transactions by P
concurrent processes, strict-serializable by construction (each commits
atomically at a moment inside its [invoke, complete] window, in that order),
keys rotated so lists stay short (a key retires after ~LIMIT appends), a
final read of every key; then, with --plant, the smallest structure of each
anomaly type on fresh keys (G0, G1a, G1b, G1c, G-single, G2-item, internal,
garbage-read, duplicate-appends) placed among the last transactions.

usage: gen_txn.py N [--procs P] [--keys K] [--limit L] [--seed S] [--plant] > history.jsonl
"""
import argparse, heapq, json, random, sys

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("--procs", type=int, default=10)
ap.add_argument("--keys", type=int, default=8)
ap.add_argument("--limit", type=int, default=50)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--plant", action="store_true")
a = ap.parse_args()
rnd = random.Random(a.seed)
out = sys.stdout
w = out.write
dumps = json.JSONEncoder(separators=(",", ":")).encode

state, count = {}, {}
active = list(range(a.keys))
next_key = a.keys
value = 0
events = []  # (time, seq, line)
seq = 0

def emit(t, obj):
    global seq
    seq += 1
    events.append((t, seq, obj))

def flush_upto(t):
    # events are produced almost in order; keep a small heap
    pass

# Each process: invoke at t, commit at t+c, complete at t+c+d.
heap = []
for p in range(a.procs):
    heapq.heappush(heap, (rnd.randint(1, 1000), p))
lines = []
t_last = 0
for i in range(a.n):
    t0, p = heapq.heappop(heap)
    commit = t0 + rnd.randint(1, 2000)
    done = commit + rnd.randint(1, 2000)
    mops, filled = [], []
    for _ in range(rnd.randint(1, 4)):
        k = active[rnd.randrange(len(active))]
        if rnd.random() < 0.5:
            value += 1
            mops.append(["append", k, value]); filled.append(["append", k, value])
        else:
            mops.append(["r", k, None]); filled.append(["r", k, None])
    # the commit happens at `commit`; commits must be applied in commit order:
    # processes are popped by invoke time, so keep per-txn and apply later
    lines.append((t0, commit, done, p, mops, filled))
    heapq.heappush(heap, (done + rnd.randint(1, 500), p))
    for j, m in enumerate(mops):
        if m[0] == "append":
            count[m[1]] = count.get(m[1], 0) + 1
            if count[m[1]] >= a.limit and m[1] in active:
                active[active.index(m[1])] = next_key
                next_key += 1

# apply in commit order
lines.sort(key=lambda x: x[1])
for (t0, commit, done, p, mops, filled) in lines:
    for j, m in enumerate(mops):
        k = m[1]
        if m[0] == "append":
            state.setdefault(k, []).append(m[2])
        else:
            filled[j] = ["r", k, list(state.get(k, []))]
ev = []
for (t0, commit, done, p, mops, filled) in lines:
    ev.append((t0, 0, {"process": p, "type": "invoke", "f": "txn", "value": mops, "time": t0}))
    ev.append((done, 1, {"process": p, "type": "ok", "f": "txn", "value": filled, "time": done}))
end = max(e[0] for e in ev) + 10 if ev else 10
keys = sorted(state)
ev.append((end, 0, {"process": a.procs, "type": "invoke", "f": "txn", "value": [["r", k, None] for k in keys], "time": end}))
ev.append((end + 1, 1, {"process": a.procs, "type": "ok", "f": "txn", "value": [["r", k, state[k]] for k in keys], "time": end + 1}))

planted = []
if a.plant:
    t = end + 10
    pp = a.procs + 1
    def txn(p, typ, t0, t1, v):
        ev.append((t0, 0, {"process": p, "type": "invoke", "f": "txn", "value": v, "time": t0}))
        ev.append((t1, 1, {"process": p, "type": typ, "f": "txn", "value": v, "time": t1}))
    def fresh(name):
        return "%s-%d" % (name, t)
    patterns = {
        "G0": lambda x, y: [("ok", 1, 2, [["append", x, 1], ["append", y, 1]]),
                            ("ok", 3, 4, [["append", x, 2], ["append", y, 2]]),
                            ("ok", 5, 6, [["r", x, [1, 2]], ["r", y, [2, 1]]])],
        "G1a": lambda x, y: [("fail", 1, 2, [["append", x, 1]]), ("ok", 3, 4, [["r", x, [1]]])],
        "G1b": lambda x, y: [("ok", 1, 4, [["append", x, 1], ["append", x, 2]]),
                             ("ok", 2, 3, [["r", x, [1]]])],
        "G1c": lambda x, y: [("ok", 1, 4, [["append", x, 1], ["r", y, [2]]]),
                             ("ok", 2, 3, [["append", y, 2], ["r", x, [1]]])],
        "G-single": lambda x, y: [("ok", 1, 4, [["append", x, 1], ["append", y, 1]]),
                                  ("ok", 2, 3, [["r", x, [1]], ["r", y, []]]),
                                  ("ok", 5, 6, [["r", y, [1]]])],
        "G2-item": lambda x, y: [("ok", 1, 3, [["r", x, []], ["r", y, []], ["append", x, 1]]),
                                 ("ok", 2, 4, [["r", x, []], ["r", y, []], ["append", y, 2]]),
                                 ("ok", 5, 6, [["r", x, [1]], ["r", y, [2]]])],
        "internal": lambda x, y: [("ok", 1, 2, [["append", x, 1], ["r", x, []]])],
        "garbage-read": lambda x, y: [("ok", 1, 2, [["append", x, 1]]), ("ok", 3, 4, [["r", x, [1, 9]]])],
        "duplicate-appends": lambda x, y: [("ok", 1, 2, [["append", x, 1]]), ("ok", 3, 4, [["append", x, 1]])],
    }
    for name, make in patterns.items():
        x, y = fresh("x-" + name), fresh("y-" + name)
        for (typ, a0, a1, v) in make(x, y):
            txn(pp, typ, t + a0, t + a1, v)
            pp += 1
        planted.append(name)
        t += 10
ev.sort(key=lambda e: (e[0], e[1]))
w("".join(dumps(e[2]) + "\n" for e in ev))
if planted:
    sys.stderr.write("planted: %s\n" % " ".join(planted))
