"""The spring-block side of the package (chain, theory, shapes, fits, figures, widgets) imports and
runs without torch: checked in a fresh interpreter in which importing torch or torchvision fails."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

TORCH_FREE = ("springblock.chain", "springblock.theory", "springblock.shape", "springblock.fit",
              "springblock.plotting", "springblock.widgets")
ALSO_TORCH_FREE = ("springblock.plotting.chain", "springblock.plotting.grids", "springblock.plotting.networks",
                   "springblock.plotting.noise", "springblock.plotting.curves",
                   "springblock.plotting.interactive", "springblock.claims", "springblock.analysis",
                   "springblock.scales", "springblock.results", "springblock.inventory",
                   "springblock.experiments.chain_grids", "springblock.experiments.chain_fits", "springblock.cli")

BLOCK = textwrap.dedent("""
    import importlib.abc, json, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, NoTorch())
    for name in [n for n in sys.modules if n.split(".")[0] in ("torch", "torchvision")]:
        del sys.modules[name]
""")


def _run(body: str, tmp_path) -> dict:
    code = BLOCK + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"SPRINGBLOCK_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg",
                               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_block_really_blocks_torch(tmp_path):
    out = _run("""
        try:
            import torch
            print(json.dumps({"imported": True}))
        except ImportError as err:
            print(json.dumps({"imported": False, "error": str(err)}))
    """, tmp_path)
    assert out == {"imported": False, "error": "torch is blocked in this test"}


def test_the_chain_theory_and_plotting_side_imports_without_torch(tmp_path):
    out = _run(f"""
        import importlib
        failed = {{}}
        for name in {TORCH_FREE + ALSO_TORCH_FREE!r}:
            try:
                importlib.import_module(name)
            except Exception as err:
                failed[name] = f"{{type(err).__name__}}: {{err}}"
        print(json.dumps({{"failed": failed, "torch": "torch" in sys.modules}}))
    """, tmp_path)
    assert out == {"failed": {}, "torch": False}


def test_a_cached_chain_simulation_and_its_figure_run_without_torch(tmp_path):
    out = _run("""
        import io
        import os
        from pathlib import Path

        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        from springblock import claims, plotting, shape
        from springblock.experiments import chain_grids

        eq7 = chain_grids.eq7_check(mu_r=(0.0, 0.02), mu_l=(0.0,), steps=2000, dt=0.1)
        again = chain_grids.eq7_check(mu_r=(0.0, 0.02), mu_l=(0.0,), steps=2000, dt=0.1)  # from the cache
        fig, ax = plt.subplots()
        plotting.load_curves(ax, eq7["load"][0], of="chain", labels=["0", "0.02"], theory=eq7["predicted"])
        fig.savefig(io.BytesIO(), format="png")
        print(json.dumps({"verdict": claims.evaluate("chain.eq7", eq7=eq7).verdict,
                          "same": bool(np.array_equal(eq7["load"], again["load"])),
                          "stored": len(list(Path(os.environ["SPRINGBLOCK_CACHE"]).glob("chain/*.npz"))),
                          "shape": list(shape.shape_of(shape.relative_curvature(eq7["load"][0]))),
                          "torch": "torch" in sys.modules}))
    """, tmp_path)
    assert out["torch"] is False and out["same"] is True and out["stored"] == 1
    assert out["shape"] == ["linear", "concave"]
    assert out["verdict"] == "reproduced"


# One concept per module, one job per function: past these sizes a module holds two things.
MODULE_LINES, FUNCTION_LINES = 450, 80


def test_modules_and_functions_stay_small():
    import ast

    package = Path(__file__).resolve().parents[1] / "src" / "springblock"
    long_modules, long_functions = [], []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(package.parent).as_posix()
        if source.count("\n") > MODULE_LINES:
            long_modules.append(f"{name} ({source.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.name} ({size} lines)")
    assert not long_modules, f"modules over {MODULE_LINES} lines: {long_modules}"
    assert not long_functions, f"functions over {FUNCTION_LINES} lines: {long_functions}"


def _diagram_rows(text: str) -> list[list[str]]:
    """CONTRIBUTING's layer diagram as rows of module names, top (highest layer) first: ``x.py``
    and ``x/`` at the first level, the indented rows under ``experiments/`` as its submodules."""
    import re

    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    rows, parent = [], None
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.findall(r"([A-Za-z_]\w*)(\.py|/)", re.split(r"\s{2,}", line.strip(), maxsplit=1)[0])
        if not names:
            continue
        nested = indent >= 4 and parent is not None
        rows.append([f"{parent}.{stem}" if nested else f"springblock.{stem}" for stem, _ in names])
        if not nested:
            parent = f"springblock.{names[0][0]}" if len(names) == 1 and names[0][1] == "/" else None
    return rows


def _module_level_imports(package: Path) -> dict[str, set[str]]:
    """Every springblock module and the springblock modules its top-level import statements name
    (resolved the way the code fingerprint resolves them)."""
    import ast

    from springblock.fingerprint import imported_names

    def name(path):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name(p): p for p in package.rglob("*.py")}
    out = {}
    for mod, path in modules.items():
        top = ast.parse(path.read_text(encoding="utf-8")).body  # module level only: not inside functions
        found = {n for n in imported_names(top, mod, path.name == "__init__.py") if n in modules}
        out[mod] = found - {mod, "springblock"}
    return out


def test_the_layer_diagram_is_the_real_import_graph():
    root = Path(__file__).resolve().parents[1]
    rows = _diagram_rows((root / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    row_of = {m: i for i, row in enumerate(rows) for m in row}

    def placed(m):  # a module of a package listed as a whole (claims/, plotting/) sits on its package's row
        while m not in row_of and "." in m:
            m = m.rpartition(".")[0]
        return m

    imports = _module_level_imports(root / "src" / "springblock")
    unlisted = sorted(m for m in imports if m != "springblock" and placed(m) not in row_of)
    assert not unlisted, f"modules missing from CONTRIBUTING's layer diagram: {unlisted}"
    upward = sorted(f"{m} -> {d}" for m, deps in imports.items() if m != "springblock" for d in deps
                    if not m.startswith(d + ".")  # a submodule may import its own package
                    and row_of[placed(d)] < row_of[placed(m)])
    assert not upward, f"module-level imports that go up CONTRIBUTING's layer diagram: {upward}"
