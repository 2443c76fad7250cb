#!/usr/bin/env python3
"""Generates the LuaLS/EmmyLua annotations (---@meta files) of faultline's Lua
API from its reference, docs/lua-api/*.md (the grammar is in
docs/lua-api/README.md), so editors complete and type-check scenario files.

usage: tools/gen_annotations.py [--check] [DOCS_DIR [OUT_DIR]]
  DOCS_DIR  default docs/lua-api;  OUT_DIR  default editor
  --check   write nothing; exit 1 naming each file that is missing, out of
            date or left over (tests/integration/lua_api_docs.sh runs it)

Writes OUT_DIR/faultline.lua (require("faultline"), and every handle class)
and OUT_DIR/faultline.lib.NAME.lua per library (require("faultline.lib.NAME")).
"""
import os
import re
import sys

HEADING = re.compile(r"^###\s+`([^`]+)`")
OPTS_HEADER = re.compile(r"^\|\s*option\s*\|\s*type\s*\|\s*default\s*\|\s*meaning\s*\|")
HANDLE_WORDS = {
    "service": "svc", "proxy": "proxy", "UDP proxy": "udp", "network": "net",
    "task": "task", "workload": "w", "connection": "conn", "fault": "fault",
}
LUA_KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for",
                "function", "goto", "if", "in", "local", "nil", "not", "or",
                "repeat", "return", "then", "true", "until", "while"}


def parse(path):
    """The entries of one reference file, in order."""
    entries, cur, in_opts, in_code, para = [], None, False, False, None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        m = HEADING.match(line)
        if m:
            sig = m.group(1)
            name = re.match(r"[\w.:]+", sig).group(0)
            cur = {"name": name, "sig": sig, "args": sig[len(name):], "desc": [],
                   "options": [], "returns": ""}
            entries.append(cur)
            in_opts, para = False, "desc"
            continue
        if line.startswith("#"):
            cur, in_opts, para = None, False, None
            continue
        if cur is None:
            continue
        if OPTS_HEADER.match(line):
            in_opts, para = True, None
            continue
        if in_opts and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            om = re.match(r"`([\w]+)`$", cells[0])
            if om and len(cells) >= 4:
                cur["options"].append((om.group(1), cells[1], cells[2], cells[3]))
            continue
        in_opts = False
        if line.startswith("**Returns**"):
            cur["returns"] = line
            para = "returns"
            continue
        if para == "returns" and line.strip():
            cur["returns"] += " " + line.strip()
            continue
        if para == "desc":
            if line.strip():
                cur["desc"].append(line.strip())
            elif cur["desc"]:
                para = None
    return entries


def lua_type(text):
    """A LuaLS type for the reference's type column."""
    out = []
    for part in re.split(r"\s+or\s+", text.replace("`", "")):
        word = part.strip().split(" ")[0].strip("{").lower() if part.strip() else ""
        t = {"number": "number", "integer": "integer", "string": "string",
             "strings": "string[]", "boolean": "boolean", "function": "function",
             "list": "table", "table": "table", "generator": "table",
             "probe": "table"}.get(word, "any")
        if t not in out:
            out.append(t)
    return "|".join(out) if "any" not in out else "any"


def returned_class(returns):
    m = re.search(r"an? `(\w+)` handle", returns)
    if m:
        return "faultline." + m.group(1)
    m = re.search(r"an? ((?:UDP )?\w+) handle", returns)
    if m and m.group(1) in HANDLE_WORDS:
        return "faultline." + HANDLE_WORDS[m.group(1)]
    return None


def params_of(e, opts_class):
    """(name, type, optional) of each parameter of the signature."""
    args = e["args"]
    if args.startswith("{"):
        return [("opts", opts_class or "table", False)]
    if not args.startswith("("):
        return None  # a field
    out, used = [], set()
    inner = args[1:args.rfind(")")] if ")" in args else ""
    for raw in [a.strip() for a in inner.split(",") if a.strip()]:
        optional = raw.startswith("[")
        a = raw.strip("[] ")
        if a == "...":
            out.append(("...", "any", False))
            continue
        if a.startswith("{"):
            out.append(("opts", opts_class or "table", optional))
            continue
        n = re.sub(r"\W", "_", a) or "arg"
        if n in LUA_KEYWORDS or n[0].isdigit():
            n = n + "_"
        while n in used:
            n += "_"
        used.add(n)
        out.append((n, "any", optional))
    return out


def comment(lines):
    return ["--- " + l for l in lines]


def emit_entry(out, e, owner, is_method):
    """Appends the annotation of one entry; owner is the Lua table's name."""
    key = re.split(r"[.:]", e["name"])[-1]
    opts_class = None
    if e["options"]:
        opts_class = "faultline.opts." + re.sub(r"[.:]", "_", e["name"])
        out.append("---@class " + opts_class)
        for name, typ, default, meaning in e["options"]:
            doc = meaning.replace("`", "")
            if default and default not in ("required", "none"):
                doc += " (default " + default.replace("`", "") + ")"
            opt = "" if default == "required" else "?"
            out.append("---@field %s%s %s %s" % (name, opt, lua_type(typ), doc))
        out.append("")
    out += comment(e["desc"])
    params = params_of(e, opts_class)
    if params is None:
        out.append("---@type any")
        out.append("%s.%s = nil" % (owner, key))
        out.append("")
        return
    for n, t, optional in params:
        if n == "...":
            out.append("---@param ... any")
        else:
            out.append("---@param %s%s %s" % (n, "?" if optional else "", t))
    rc = returned_class(e["returns"])
    if rc:
        out.append("---@return " + rc)
    names = ", ".join(n for n, _, _ in params)
    sep = ":" if is_method else "."
    out.append("function %s%s%s(%s) end" % (owner, sep, key, names))
    out.append("")


def generate(docs):
    files = sorted(f for f in os.listdir(docs) if f.endswith(".md") and f != "README.md")
    entries = []
    for f in files:
        entries += parse(os.path.join(docs, f))
    header = ["-- Generated by tools/gen_annotations.py from docs/lua-api/*.md: do not edit.",
              "-- LuaLS (VS Code, Neovim): see \"Editor support\" in README.md.", ""]
    core, libs, handles = [], {}, {}
    # The handles README.md lists are never libraries (`gen.next(ctx)` is a
    # function you write).
    known_handles = set()
    readme = os.path.join(docs, "README.md")
    if os.path.exists(readme):
        text = open(readme, encoding="utf-8").read()
        part = text.split("## Handles", 1)[-1].split("\n## ", 1)[0]
        known_handles = set(re.findall(r"^\|\s*`(\w+)`\s*\|", part, re.M))
    # A library is a prefix with functions of its own (`util.mkdir(...)`); a
    # handle's fields (`svc.name`) have no call after them.
    libnames = set()
    for e in entries:
        first = re.match(r"\w+", e["name"]).group(0)
        if (first != "fl" and first not in known_handles and "." in e["name"]
                and e["args"][:1] in ("(", "{")):
            libnames.add(first)
    for e in entries:
        name = e["name"]
        first = re.match(r"\w+", name).group(0)
        if first == "fl":
            core.append(e)
        elif ":" not in name and first in libnames:
            libs.setdefault(first, []).append(e)
        else:
            handles.setdefault(first, []).append(e)
    out = {}
    lines = ["---@meta faultline"] + header + ["---@class faultline", "local fl = {}", ""]
    tables = set()
    for e in core:
        parts = e["name"].split(".")[1:-1]
        for i in range(len(parts)):
            t = "fl." + ".".join(parts[:i + 1])
            if t not in tables:
                tables.add(t)
                lines += ["%s = {}" % t, ""]
        owner = e["name"].rsplit(".", 1)[0]
        emit_entry(lines, e, owner, False)
    for h in sorted(handles):
        lines += ["---@class faultline.%s" % h, "local %s = {}" % h, ""]
        for e in handles[h]:
            emit_entry(lines, e, h, ":" in e["name"])
    lines.append("return fl")
    out["faultline.lua"] = "\n".join(lines) + "\n"
    for lib in sorted(libs):
        lines = ["---@meta faultline.lib.%s" % lib] + header
        lines += ["---@class faultline.lib.%s" % lib, "local %s = {}" % lib, ""]
        for e in libs[lib]:
            emit_entry(lines, e, lib, False)
        lines.append("return %s" % lib)
        out["faultline.lib.%s.lua" % lib] = "\n".join(lines) + "\n"
    return out


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    docs = args[0] if args else os.path.join(root, "docs", "lua-api")
    outdir = args[1] if len(args) > 1 else os.path.join(root, "editor")
    files = generate(docs)
    if check:
        bad = []
        for name, text in files.items():
            p = os.path.join(outdir, name)
            if not os.path.exists(p):
                bad.append("missing: " + p)
            elif open(p, encoding="utf-8").read() != text:
                bad.append("out of date: " + p)
        if os.path.isdir(outdir):
            for f in os.listdir(outdir):
                if f.startswith("faultline") and f.endswith(".lua") and f not in files:
                    bad.append("left over: " + os.path.join(outdir, f))
        for b in bad:
            print(b)
        return 1 if bad else 0
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        if f.startswith("faultline") and f.endswith(".lua") and f not in files:
            os.remove(os.path.join(outdir, f))
    for name, text in files.items():
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            f.write(text)
    print("wrote %d file(s) to %s" % (len(files), outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
