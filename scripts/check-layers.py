#!/usr/bin/env python3
"""Fails when two of the crate's top-level modules import each other, directly or through others.

A top-level module is a file or folder right under src/ (`protocol`, `client`, `ui`, `server`,
...). An import is any `crate::<module>` path in a Rust file of another module (in a `use`
line or written out in code); comments are ignored. Prints each cycle it finds as
`a -> b -> a` with the lines that make it, and exits with 1; prints the layers it checked
and exits with 0 when there is none.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use crate::{a, b::C}` names several modules in one line.
GROUP = re.compile(r"\bcrate::\{([^}]*)\}")


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs")


def imports(path: pathlib.Path):
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0]
        names = set(PATH.findall(code))
        for group in GROUP.findall(code):
            names.update(m.group(1) for m in re.finditer(r"(?:^|,)\s*([a-z_][a-z0-9_]*)", group))
        for name in names:
            yield name, number


def main() -> int:
    modules = {module_of(p) for p in SRC.rglob("*.rs")}
    edges: dict[str, dict[str, str]] = {m: {} for m in modules}
    for path in sorted(SRC.rglob("*.rs")):
        source = module_of(path)
        if source in ("lib", "main"):
            continue  # the crate root wires every module together
        for target, number in imports(path):
            if target in modules and target != source and target not in edges[source]:
                edges[source][target] = f"{path.relative_to(SRC.parent)}:{number}"

    # Tarjan's strongly connected components: any component with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            components.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)

    cycles = [sorted(c) for c in components if len(c) > 1]
    for cycle in cycles:
        print(f"import cycle between {', '.join(cycle)}:")
        members = set(cycle)
        for a in cycle:
            for b, where in sorted(edges[a].items()):
                if b in members:
                    print(f"  {a} -> {b}  ({where})")
    if cycles:
        return 1
    layers = sorted(m for m in modules if m not in ("lib", "main"))
    print(f"no import cycle between the top-level modules ({', '.join(layers)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
