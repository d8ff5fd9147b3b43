"""The import graph of one package, as figures: levels, imports running back up, cycles.

    PYTHONPATH=. python -m benchmarks.import_graph stream

* levels: the longest chain of imports inside the package, counted in modules (a module importing
  nothing of the package is level 1; a cycle counts as one module).
* imports running back up: between folders (the package's subpackages; a module directly in the
  package stands for itself: ``stream.host.loop`` is in ``stream.host``, ``stream.engine`` alone),
  an import from folder A to folder B while B also reaches A through other imports; each is
  listed with its line.
* cycles: groups of modules that import each other, directly or not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping

import grimp


def strongly_connected(nodes: Iterable[str], edges: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's components, iterative (deep packages would overflow recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def levels(nodes: set[str], edges: Mapping[str, set[str]]) -> dict[str, int]:
    """Each module's level: 1 + the highest level it imports (modules of one cycle share a level)."""
    component_of = {}
    components = strongly_connected(nodes, edges)
    for number, component in enumerate(components):
        for member in component:
            component_of[member] = number
    level: dict[int, int] = {}
    for number, component in enumerate(components):  # Tarjan yields a component after all it reaches
        below = [level[component_of[child]] for member in component for child in edges.get(member, ())
                 if component_of[child] != number]
        level[number] = 1 + max(below, default=0)
    return {node: level[component_of[node]] for node in nodes}


def folder(module: str, packages: set[str]) -> str:
    """A subpackage's modules group by the subpackage; the root's own modules stand alone."""
    parts = module.split(".")
    return ".".join(parts[:2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package")
    args = parser.parse_args(argv)
    graph = grimp.build_graph(args.package, include_external_packages=False, cache_dir=None)
    nodes = set(graph.modules)
    packages = {m for m in nodes if any(other.startswith(m + ".") for other in nodes)}
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & nodes for m in nodes}
    by_module = levels(nodes, edges)
    print(f"{args.package}: {len(nodes)} modules, {sum(map(len, edges.values()))} imports, "
          f"{max(by_module.values())} levels")
    for number in range(max(by_module.values()), 0, -1):
        print(f"  level {number}: {', '.join(sorted(m for m, n in by_module.items() if n == number))}")
    folders = {folder(m, packages) for m in nodes}
    folder_edges: dict[str, set[str]] = {f: set() for f in folders}
    for importer, imported in ((a, b) for a, targets in edges.items() for b in targets):
        if folder(importer, packages) != folder(imported, packages):
            folder_edges[folder(importer, packages)].add(folder(imported, packages))
    folder_cycles = [c for c in strongly_connected(folders, folder_edges) if len(c) > 1]
    in_cycle = {f: n for n, c in enumerate(folder_cycles) for f in c}
    upward = []
    for importer, imported in sorted((a, b) for a, targets in edges.items() for b in targets):
        a, b = folder(importer, packages), folder(imported, packages)
        if a != b and a in in_cycle and in_cycle.get(b) == in_cycle[a]:
            lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported))
            upward.append(f"{importer} -> {imported} (line {', '.join(map(str, lines))})")
    print(f"folders importing each other: {len(folder_cycles)}"
          + "".join(f"\n  {' <-> '.join(sorted(c))}" for c in folder_cycles))
    print(f"imports running back up (between folders that import each other): {len(upward)}"
          + "".join(f"\n  {line}" for line in upward))
    module_cycles = [c for c in strongly_connected(nodes, edges) if len(c) > 1]
    print(f"module cycles: {len(module_cycles)}" + "".join(f"\n  {' <-> '.join(sorted(c))}" for c in module_cycles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
