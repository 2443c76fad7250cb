#!/bin/sh
# The streaming transaction reader (check/txn_read.c) against the way
# histories were read before it (hidden --tree-reader: every line a jansson
# tree, then the checker): on bench/gen_txn.py histories with one planted
# anomaly of each type, on several seeds, and on the same histories made
# messy (escaped and non-ASCII string keys and values that take the general
# path, {} for an empty list, spaces, info and fail completions, invokes
# never completed) and turned into rw-register histories, the two give the
# same result, field for field (timings and the file aside), at several
# consistency models and with real-time and process edges.
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
GEN=$FL_SRC/bench/gen_txn.py

# One python3 for everything (its start is slow on a loaded machine):
# generation (gen_txn.py run in-process), the messy and rw-register
# rewrites, both readers on each, the comparisons.
python3 - "$GEN" "$FAULTLINE" "$TMP" <<'PY' || fail "the streaming reader and the tree reader disagree (above)"
import contextlib, io, json, random, runpy, subprocess, sys
gen, faultline, tmp = sys.argv[1:4]
bad = 0

def generate(args):
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = [gen] + args
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        runpy.run_path(gen, run_name="__main__")
    sys.argv = argv
    planted = err.getvalue().replace("planted:", "").split()
    return [json.loads(l) for l in out.getvalue().splitlines()], planted

def skey(k):
    if isinstance(k, int) and k % 3 == 0:
        return "k\u00e9y-%d" % k   # non-ASCII
    if isinstance(k, int) and k % 3 == 1:
        return 'q"%d' % k           # an escape: the general path
    return k

def sval(v):
    return "v\\%d" % v if isinstance(v, int) and v % 5 == 0 else v

def rewrite(lines, mode):
    rnd = random.Random(7)
    out = []
    for o in json.loads(json.dumps(lines)):
        v = o.get("value")
        if mode == "rw" and isinstance(v, list):
            o["value"] = [["w", m[1], m[2]] if m[0] == "append" else
                          ["r", m[1], (m[2][-1] if m[2] else None)] if isinstance(m[2], list)
                          else m for m in v]
        elif mode == "messy" and isinstance(v, list):
            for m in v:
                m[1] = skey(m[1])
                if m[0] == "append":
                    m[2] = sval(m[2])
                elif isinstance(m[2], list):
                    m[2] = [sval(x) for x in m[2]] if m[2] else ({} if rnd.random() < 0.5 else [])
        if mode == "messy" and o["type"] == "ok" and rnd.random() < 0.03:
            o["type"] = rnd.choice(["info", "fail"])
        out.append(o)
    if mode == "messy":  # some processes' last op never completes
        seen = set()
        for i in range(len(out) - 1, -1, -1):
            p = out[i]["process"]
            if out[i]["type"] != "invoke" and p not in seen and p % 4 == 0:
                seen.add(p)
                out[i] = None
    return [o for o in out if o is not None]

def write(lines, name):
    path = "%s/%s" % (tmp, name)
    with open(path, "w") as f:
        for i, o in enumerate(lines):
            sep = (", ", ": ") if i % 7 == 0 else (",", ":")
            f.write(json.dumps(o, separators=sep, ensure_ascii=(i % 2 == 0)) + "\n")
    return path

def run(path, model, args, tree):
    cmd = [faultline, "check", path, "--model", model, "--json"] + args
    p = subprocess.run(cmd + (["--tree-reader"] if tree else []), capture_output=True, text=True)
    d = json.loads(p.stdout) if p.stdout.strip() else {}
    for k in ("parse_s", "elapsed_s", "check_s", "file"):
        d.pop(k, None)
    return p.returncode, d

def same(path, model, *args):
    global bad
    what = "%s %s %s" % (path.split("/")[-1], model, " ".join(args))
    (ra, a), (rb, b) = run(path, model, list(args), False), run(path, model, list(args), True)
    if ra != rb or a != b:
        bad += 1
        print("FAIL: %s: exit %d streaming, %d with trees" % (what, ra, rb))
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                print("  %s: %s\n  vs %s" % (k, json.dumps(a.get(k))[:400], json.dumps(b.get(k))[:400]))
        return a
    print("ok: %s: the same result (exit %d, %s)" % (what, ra, sorted(a.get("counts", {}).items())))
    return a

for seed in (1, 2):
    lines, planted = generate(["2000", "--seed", str(seed), "--plant"])
    p = write(lines, "p%d.jsonl" % seed)
    a = same(p, "list-append")
    missed = [t for t in planted if t not in a.get("counts", {})]
    if missed or not planted:
        bad += 1
        print("FAIL: seed %d: planted %s, missed %s" % (seed, planted, missed))
    same(p, "list-append", "--consistency", "strict-serializable", "--process")
    m = write(rewrite(lines, "messy"), "m%d.jsonl" % seed)
    same(m, "list-append", "--consistency", "snapshot-isolation", "--realtime")
    r = write(rewrite(lines, "rw"), "r%d.jsonl" % seed)
    same(r, "rw-register")
    same(r, "rw-register", "--consistency", "read-committed", "--realtime")
lines, _ = generate(["2000", "--seed", "9"])
a = same(write(lines, "valid.jsonl"), "list-append", "--consistency", "strict-serializable")
if a.get("valid") is not True:
    bad += 1
    print("FAIL: a valid generated history was rejected")
sys.exit(1 if bad else 0)
PY

# Bad input: the same message, naming the line, from both.
printf '{"process":1,"type":"invoke","f":"txn","value":[["r","x",null]],"time":1}\n{"process":1,"type":"ok","f":"txn","value":[["r","x",[1,]]],"time":2}\n' >"$TMP/bad.jsonl"
expect_exit 2 "bad JSON in a value" -- "$FAULTLINE" check "$TMP/bad.jsonl" --model list-append
expect_grep "$TMP/out" "bad.jsonl:2: bad JSON" "names the line"
printf '{"process":1,"type":"invoke","f":"txn","value":[["r","x",null]],"time":1}\n{"process":1,"type":"ok","f":"txn","value":[["r","x",5]],"time":2}\n' >"$TMP/bad2.jsonl"
expect_exit 2 "a list-append read of one value" -- "$FAULTLINE" check "$TMP/bad2.jsonl" --model list-append
expect_grep "$TMP/out" "bad2.jsonl:2: a list-append read is a list, not a single value" "names the line and the field"
finish
