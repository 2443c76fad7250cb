#!/usr/bin/env python3
"""Writes the history.jsonl and logs/ of the sample runs in this folder.

The report.json files are written by hand; this script makes the bulky,
regular parts (a workload's history, the services' logs) so that they agree
with the reports' timelines. Deterministic: run it again and nothing changes.
It prints the op counts for the reports' "stats".

    python3 tests/data/reports/make_samples.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def lat(rng, base=2.0):
    return rng.lognormvariate(0, 0.45) * base / 1000.0


def workload(rng, duration, nproc, rate, behave):
    """behave(p, t, f) -> (type, latency_s, value or None)."""
    ops = []
    counts = {"ok": 0, "fail": 0, "info": 0}
    value = {"x": 0, "y": 0}
    for p in range(nproc):
        t = 0.5 + p * 0.013
        while t < duration - 0.3:
            f = rng.choice(["read", "read", "read", "write", "write", "cas"])
            key = rng.choice(["x", "y"])
            typ, l, v = behave(p, t, f)
            if f == "write":
                arg = rng.randint(1, 9)
            elif f == "cas":
                arg = [value[key], rng.randint(1, 9)]
            else:
                arg = None
            if typ == "ok" and f == "write":
                value[key] = arg
            if typ == "ok" and f == "cas":
                value[key] = arg[1]
            ops.append((t, {"process": p, "type": "invoke", "f": f, "key": key,
                            "value": arg}))
            done = t + l
            res = value[key] if (f == "read" and typ == "ok") else arg
            if f == "read" and v is not None:
                res = v
            ops.append((done, {"process": p, "type": typ, "f": f, "key": key,
                               "value": res if typ == "ok" or f != "read" else None}))
            counts[typ] += 1
            t = done + rng.expovariate(rate)
    ops.sort(key=lambda o: o[0])
    lines = []
    for t, o in ops:
        o["time"] = int(t * 1e9)
        lines.append(json.dumps(o, separators=(",", ":")))
    return lines, counts


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def stamp(t, text):
    return "[%8.3f] %s" % (t, text)


def fail_partition():
    rng = random.Random(42)
    d = os.path.join(HERE, "fail-partition")

    def behave(p, t, f):
        on_n2 = p >= 2
        if 5.0 <= t < 13.0 and on_n2:
            if f == "read":  # the unsafe follower answers from its stale copy
                return "ok", lat(rng, 1.2), None
            return "info", 1.0 + rng.random() * 0.004, None
        if 15.0 <= t < 17.4:
            if not on_n2:
                return "fail", lat(rng, 0.5), None
            if f != "read":
                return "info", 1.0 + rng.random() * 0.004, None
        if 17.4 <= t < 19.1 and f != "read":
            return "fail", lat(rng, 3.0), None
        return "ok", lat(rng, 2.0 if t < 17.4 else 3.0), None

    lines, counts = workload(rng, 22.0, 4, 9.0, behave)
    write(os.path.join(d, "history.jsonl"), lines)

    n1, n2, n3 = [], [], []
    for i, log in enumerate((n1, n2, n3)):
        log.append(stamp(0.101 + i * 0.01, "kvnode %d starting, listening on 127.0.0.1:%d"
                         % (i, 7001 + i)))
        log.append(stamp(0.33 + i * 0.02, "raft: joined cluster of 3, term 1"))
    commit = 40
    t = 0.5
    while t < 22.0:
        commit += rng.randint(3, 9)
        if t < 15.0:
            n1.append(stamp(t, "raft: leader term 1, commit index %d" % commit))
        if 5.0 <= t < 13.0:
            n1.append(stamp(t + 0.004, "replicate to n2: connection reset by peer"))
            n2.append(stamp(t + 0.05, "raft: no heartbeat from leader for %d ms" %
                            int((t - 5.0) * 1000 + 150)))
            if int(t * 2) % 4 == 0:
                n2.append(stamp(t + 0.06, "read x served from local state (unsafe mode)"))
        else:
            n2.append(stamp(t + 0.01, "raft: follower term %d, applied %d"
                            % (1 if t < 15 else 2, commit)))
        if 15.0 <= t < 16.0:
            n3.append(stamp(t + 0.2, "raft: leader n1 unreachable, starting election"))
        elif t >= 16.0:
            n3.append(stamp(t, "raft: leader term 2, commit index %d" % commit))
        else:
            n3.append(stamp(t + 0.02, "raft: follower term 1, applied %d" % commit))
        t += 0.5
    n1.append(stamp(5.002, "proxy n1->n2: partition applied"))
    n2.append(stamp(5.21, "raft: lost contact with leader; <unsafe> reads still served & "
                    "\"stale\" possible"))
    n2.append(stamp(13.004, "raft: leader contact restored"))
    n2.append(stamp(14.1, "raft: caught up 57 entries from leader"))
    n1.append(stamp(17.001, "kvnode 0 starting, listening on 127.0.0.1:7001"))
    n1.append(stamp(17.39, "raft: rejoined as follower, term 2"))
    for t in (17.5, 18.0, 18.5, 19.0):
        n1.append(stamp(t, "raft: follower term 2, applying log backlog"))
    n3.append(stamp(16.02, "raft: elected leader, term 2"))
    n3.append(stamp(17.45, "append to n1: rejected, term 1 < 2; retrying"))
    for log, name in ((n1, "n1"), (n2, "n2"), (n3, "n3")):
        log.sort(key=lambda l: float(l[1:9]))
        write(os.path.join(d, "logs", name + ".log"), log)
    print("fail-partition", counts)


def pass_kill_restart():
    rng = random.Random(1234)
    d = os.path.join(HERE, "pass-kill-restart")

    def behave(p, t, f):
        if 5.0 <= t < 7.2 and p in (0, 1):
            return "fail", lat(rng, 0.4), None
        if 9.0 <= t < 10.0 and p == 2:
            return "info", 0.5 + rng.random() * 0.002, None
        return "ok", lat(rng, 1.5), None

    lines, counts = workload(rng, 12.3, 3, 12.0, behave)
    write(os.path.join(d, "history.jsonl"), lines)
    logs = {"n1": [], "n2": [], "n3": []}
    for i, name in enumerate(logs):
        logs[name].append(stamp(0.1 + i * 0.01, "kvnode %d starting" % i))
        logs[name].append(stamp(0.35 + i * 0.01, "ready"))
    logs["n1"].append(stamp(4.5, "raft: leader term 1, commit index 310"))
    logs["n2"].append(stamp(5.2, "raft: leader n1 unreachable, starting election"))
    logs["n2"].append(stamp(5.9, "raft: elected leader, term 2"))
    logs["n1"].append(stamp(7.001, "kvnode 0 starting"))
    logs["n1"].append(stamp(7.2, "raft: rejoined as follower, term 2"))
    logs["n3"].append(stamp(8.7, "raft: follower term 2, applied 402"))
    logs["n3"].append(stamp(10.02, "raft: resumed after a 1.0 s stall"))
    for name, log in logs.items():
        write(os.path.join(d, "logs", name + ".log"), log)
    print("pass-kill-restart", counts)


if __name__ == "__main__":
    fail_partition()
    pass_kill_restart()
