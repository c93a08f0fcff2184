#!/usr/bin/env python3
"""Keeps the house's shape (issue 22): no source file over 400 lines, and no Swift function
or C function over 80 lines, in the library's targets (Sources/). Prints every breach and
exits 1 if there is one. Counted from the line holding `func` (or a C definition's name) to
its closing brace; strings and comments are skipped when braces are counted.

`KNOWN` lists the breaches that predate the check, each at its size when the check came in:
they may shrink, never grow, and the check says when one is within the budget and can go."""
import os, re, sys

MAX_FILE, MAX_FUNCTION = 400, 80
KNOWN: dict[str, int] = {}
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
swift_func = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|static|class|final|override|mutating|nonisolated|@inline\(__always\)|@inlinable)\s+)*(?:func|init|subscript)\b")
c_func = re.compile(r"^[A-Za-z_][\w \*]*\b(\w+)\s*\([^;]*$")


def code(line, state):
    """The line without strings and comments; `state` carries an open /* comment."""
    out, i = [], 0
    while i < len(line):
        if state["block"]:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out)
            state["block"], i = False, end + 2
        elif line.startswith("//", i):
            break
        elif line.startswith("/*", i):
            state["block"], i = True, i + 2
        elif line[i] == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            i = j + 1
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def functions(lines, is_c):
    """(first line, length, name) of every function body."""
    state, found, start, depth, name = {"block": False}, [], None, 0, ""
    for n, raw in enumerate(lines, 1):
        text = code(raw, state)
        if start is None:
            m = (c_func.match(raw) if is_c and depth == 0 else None) if is_c else swift_func.match(text)
            if m:
                start, depth, name = n, 0, raw.strip()[:70]
                opened = False
        if start is not None:
            for ch in text:
                if ch == "{":
                    depth += 1
                    opened = True
                elif ch == "}":
                    depth -= 1
            if opened and depth <= 0:
                found.append((start, n - start + 1, name))
                start, depth = None, 0
            elif not opened and (text.rstrip().endswith(";") or (not is_c and not text.strip().endswith((",", "(", "->")) and "{" not in text and n > start + 6)):
                start = None  # a declaration without a body (protocol requirement, prototype)
        elif is_c:
            depth += text.count("{") - text.count("}")
    return found


def over(key, size, budget, what):
    """A breach message if `size` is over the budget and over the key's known ceiling."""
    if size <= budget:
        if key in KNOWN:
            print(f"check-shape: {key} is within the budget now; remove it from KNOWN")
        return None
    if size <= KNOWN.get(key, budget):
        return None
    known = f", known at {KNOWN[key]}" if key in KNOWN else ""
    return f"{what} (at most {budget}{known})"


breaches = []
for folder, _, files in os.walk(os.path.join(root, "Sources")):
    for f in sorted(files):
        if not f.endswith((".swift", ".c")):
            continue
        path = os.path.join(folder, f)
        rel = os.path.relpath(path, root)
        lines = open(path, encoding="utf-8").read().split("\n")
        breaches.append(over(rel, len(lines), MAX_FILE, f"{rel}: {len(lines)} lines"))
        for start, length, name in functions(lines, f.endswith(".c")):
            short = re.search(r"\b(?:func\s+(\w+)|(init|subscript)\b|(\w+)\s*\()", name)
            key = f"{rel}:{next(g for g in short.groups() if g)}" if short else f"{rel}:{start}"
            breaches.append(over(key, length, MAX_FUNCTION, f"{rel}:{start}: a function of {length} lines: {name}"))
breaches = [b for b in breaches if b]
for b in breaches:
    print(b)
if breaches:
    sys.exit(1)
known = f", but the known ones that may only shrink: {', '.join(KNOWN)}" if KNOWN else ""
print(f"check-shape: every file within {MAX_FILE} lines and every function within {MAX_FUNCTION}{known}")
