#!/usr/bin/env python3
"""Checks the include graph of every daemon folder under SRC (default: the repository's src/).

  scripts/check-layers.py [SRC]

For each folder (comet, logic, job, router, client, common) a module is a file's basename without
.c/.h, anywhere under the folder; A -> B when A.c or A.h has #include "B.h" and B is a module of
the same folder. The check fails, printing what it found, when:
  - the graph has a cycle (A.c including its own A.h is no edge);
  - the folder has a LAYERS file and an include goes from a lower layer to a higher one;
  - a file includes a header of another of these folders (only src/common is shared).
LAYERS, lowest layer first, blank lines and '#' comments ignored, is one of two forms:
  - one subfolder name per line (comet: transport, session, ...): a file's layer is the first
    subfolder of its path; a file directly in the folder (main.c) is above every layer;
  - "<layer>: <module> <module> ..." per line (logic, job, router): every module but main must be
    listed; main is above every layer.
Exit status: 0 clean, 1 violations found (each printed on stderr), 2 usage error. Python 3
standard library only (a fresh Debian 12 has no other packages).
"""
import os
import re
import sys

FOLDERS = ("comet", "logic", "job", "router", "client", "common")
SHARED = "common"
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)
TOP = float("inf")  # the layer of main.c and of files directly in a subfolder-layered folder


class Folder:
    def __init__(self, src, name):
        self.name = name
        self.root = os.path.join(src, name)
        self.files = []  # paths relative to root
        for d, _, names in os.walk(self.root):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    self.files.append(os.path.relpath(os.path.join(d, n), self.root))
        self.files.sort()
        self.modules = {module_of(f) for f in self.files}
        self.headers = {os.path.basename(f): f for f in self.files if f.endswith(".h")}

    def includes(self, rel):
        """The quoted includes of one file, as basenames."""
        with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as fh:
            return [os.path.basename(i) for i in INCLUDE_RE.findall(fh.read())]


def module_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def read_layers(folder, errors):
    """Returns (rank, names): rank maps a file to its layer's index in names, lowest first (TOP:
    above all); (None, None) without a LAYERS file."""
    path = os.path.join(folder.root, "LAYERS")
    if not os.path.exists(path):
        return None, None
    lines = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                lines.append((n, line))
    where = "src/%s/LAYERS" % folder.name
    names = [line.partition(":")[0].strip() for _, line in lines]
    if any(":" in line for _, line in lines):
        rank_of_module = {}
        for rank, (n, line) in enumerate(lines):
            layer, _, modules = line.partition(":")
            if not layer.strip() or not modules.split():
                errors.append("%s:%d: expected '<layer>: <module> ...'" % (where, n))
            for m in modules.split():
                if m in rank_of_module:
                    errors.append("%s:%d: %s is in two layers" % (where, n, m))
                elif m not in folder.modules:
                    errors.append("%s:%d: no module %s in src/%s" % (where, n, m, folder.name))
                rank_of_module[m] = rank
        for m in sorted(folder.modules - set(rank_of_module) - {"main"}):
            errors.append("%s: module %s is in no layer" % (where, m))
        return (lambda f: TOP if module_of(f) == "main" else rank_of_module.get(module_of(f), TOP),
                names)
    rank_of_dir = {}
    for rank, (n, line) in enumerate(lines):
        if not os.path.isdir(os.path.join(folder.root, line)):
            errors.append("%s:%d: no subfolder %s" % (where, n, line))
        rank_of_dir[line] = rank
    for f in folder.files:
        top = f.split(os.sep)[0]
        if top != f and top not in rank_of_dir:
            errors.append("src/%s/%s: subfolder %s is not in LAYERS" % (folder.name, f, top))
    return lambda f: TOP if os.sep not in f else rank_of_dir.get(f.split(os.sep)[0], TOP), names


def find_cycles(graph):
    """(cycle, component) per strongly connected component of more than one module, by Tarjan's
    algorithm (iterative: no recursion limit): a shortest cycle through the component's first
    module (first repeated last) and every module of the component, sorted."""
    index, low, on_stack, stack, sccs, counter = {}, {}, set(), [], [], [0]

    def strongconnect(v):
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                scc = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    scc.append(w)
                    if w == node:
                        break
                if len(scc) > 1:
                    sccs.append(set(scc))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    cycles = []
    for scc in sccs:
        start = min(scc)
        # Breadth-first inside the component from start back to start: a shortest cycle.
        prev, queue, seen = {}, [start], {start}
        while queue:
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w not in scc:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    cycles.append(([start] + path[::-1][1:] + [start], sorted(scc)))
                    queue = []
                    break
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    queue.append(w)
    return sorted(cycles)


def check_folder(folder, others, errors):
    rank, names = read_layers(folder, errors)

    def name(r):
        return "top" if r == TOP else names[r]

    graph = {m: set() for m in folder.modules}
    for f in folder.files:
        a = module_of(f)
        for inc in folder.includes(f):
            b = os.path.splitext(inc)[0]
            where = "src/%s/%s" % (folder.name, f)
            if inc in folder.headers:
                if b == a:
                    continue
                graph[a].add(b)
                if rank is not None and rank(f) < rank(folder.headers[inc]):
                    errors.append("%s: includes %s of layer %s from layer %s" % (
                        where, inc, name(rank(folder.headers[inc])), name(rank(f))))
                continue
            for other in others:
                if inc in other.headers and (folder.name == SHARED or other.name != SHARED):
                    errors.append("%s: includes %s of src/%s" % (where, inc, other.name))
    for cycle, component in find_cycles(graph):
        text = "src/%s: include cycle: %s" % (folder.name, " -> ".join(cycle))
        if len(component) > len(cycle) - 1:
            text += " (one of the cycles among %s)" % " ".join(component)
        errors.append(text)


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        sys.stderr.write(__doc__)
        return 2
    src = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..", "src")
    folders = [Folder(src, n) for n in FOLDERS if os.path.isdir(os.path.join(src, n))]
    if not folders:
        sys.stderr.write("check-layers: no daemon folder under %s\n" % src)
        return 2
    errors = []
    for f in folders:
        check_folder(f, [o for o in folders if o is not f], errors)
    for e in errors:
        sys.stderr.write("check-layers: %s\n" % e)
    if errors:
        return 1
    print("check-layers: %s: no cycle, no upward or cross-daemon include" %
          ", ".join(f.name for f in folders))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
