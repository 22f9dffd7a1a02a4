"""Code fingerprints: which source a stored result depends on, hashed so only what computes counts.

A result's key (:func:`springblock.results.key`) holds the fingerprint of the modules its
experiment names and of every ``springblock`` module they import, and the versions of the
libraries that code uses. Each module's source is parsed and what cannot change a number is left
out before it is hashed (:class:`_Normalise`), so an edited comment or error message moves no key
and an edited formula moves every key that depends on it.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Iterable, Iterator, Sequence

PACKAGE = "springblock"
# Modules whose code is not fingerprinted, because nothing they do can change a stored number
# without the key seeing it another way: the cache's own plumbing (keys, files, locks); the data
# modules (every key holds a content hash of the data itself); device resolution (the device type
# is in every key); argument checks (they refuse or normalise values, and the normalised values are
# the configuration in the key). Work on them invalidates nothing.
NOT_FINGERPRINTED = frozenset({"springblock.results", "springblock.cache", "springblock.paths",
                               "springblock.data", "springblock._vision", "springblock.devices",
                               "springblock.validate", "springblock.experiments",
                               "springblock.fingerprint", "springblock.reproduce"})
# ("springblock.experiments" is the package's entry point: it resolves names and computes nothing.)
_LIBRARIES = ("torch", "numpy", "scipy")  # whose versions enter a key when the fingerprinted code imports them


# ---------------------------------------------------------------------------------------------
# Code fingerprints
# ---------------------------------------------------------------------------------------------
def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ValueError(f"module {name!r} not found")
    return Path(spec.origin)


_MESSAGE = ast.Constant("<message>")


def _is_warn(call: ast.AST) -> bool:
    f = getattr(call, "func", None)
    return isinstance(call, ast.Call) and (isinstance(f, ast.Attribute) and f.attr == "warn"
                                           or isinstance(f, ast.Name) and f.id == "warn")


class _Normalise(ast.NodeTransformer):
    """What does not compute, taken out of a module's syntax tree before it is hashed.

    * docstrings, and the type annotations of arguments, returns and variables;
    * import statements: which module a name comes from is followed separately (its own code is
      hashed), so moving a module or reordering imports changes no key;
    * the message strings of ``raise`` statements and of ``warn(...)`` calls: rewording an error
      changes no number.
    """

    def _body(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    def visit_Module(self, node):
        return self.generic_visit(self._body(node))

    def visit_ClassDef(self, node):
        return self.generic_visit(self._body(node))

    def visit_FunctionDef(self, node):
        node.returns = None
        return self.generic_visit(self._body(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_AnnAssign(self, node):  # dataclass fields keep their place and default, not their type
        node.annotation = ast.Constant(None)
        return self.generic_visit(node)

    def visit_Import(self, node):
        return None

    visit_ImportFrom = visit_Import

    def visit_Raise(self, node):
        node = self.generic_visit(node)
        if isinstance(node.exc, ast.Call):
            node.exc.args = [_MESSAGE if isinstance(a, (ast.Constant, ast.JoinedStr, ast.BinOp)) else a
                             for a in node.exc.args]
        return node

    def visit_Expr(self, node):
        if _is_warn(node.value):
            node.value.args = [_MESSAGE] + node.value.args[1:]
        return self.generic_visit(node)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ModuleNotFoundError, ValueError):  # "from .data import check_dataset": a name, not a module
        return False


def imported_names(nodes: Iterable[ast.AST], module: str, is_package: bool) -> Iterator[str]:
    """Absolute names that the import statements among ``nodes`` (of ``module``'s source) name: each
    imported module, and for ``from m import a`` both ``m`` and ``m.a`` (``a`` may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def _imports(tree: ast.AST, module: str, is_package: bool) -> tuple[set[str], set[str]]:
    """(springblock modules, top-level external libraries) imported anywhere in ``tree``."""
    ours, libs = set(), set()
    for n in imported_names(ast.walk(tree), module, is_package):
        if n == PACKAGE or n.startswith(PACKAGE + "."):
            if _is_module(n):
                ours.add(n)
        else:
            libs.add(n.split(".")[0])
    ours.discard(PACKAGE)  # the package's __init__ holds no numerics
    return ours - NOT_FINGERPRINTED, libs


def source_digest(source: str) -> str:
    """Hash of what computes in one module's source (:class:`_Normalise` says what is left out)."""
    return hashlib.sha256(ast.dump(_Normalise().visit(ast.parse(source))).encode()).hexdigest()


_DIGESTS: dict[str, tuple[tuple, tuple]] = {}  # module -> ((path, mtime, size), (digest, ours, libs))


def _module_digest(name: str) -> tuple[str, frozenset, frozenset]:
    """A module's digest and imports; recomputed when its file changed (an edited module in a
    long-lived kernel, ``importlib.reload``, autoreload), never served stale."""
    path = _module_file(name)
    st = path.stat()
    stamp = (str(path), st.st_mtime_ns, st.st_size)
    hit = _DIGESTS.get(name)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    source = path.read_text(encoding="utf-8")
    ours, libs = _imports(ast.parse(source), name, path.name == "__init__.py")
    out = (source_digest(source), frozenset(ours), frozenset(libs))
    _DIGESTS[name] = (stamp, out)
    return out


def code_fingerprint(modules: Sequence[str]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Fingerprint of the source of ``modules`` and every ``springblock`` module they import.

    Each module's source is parsed and what does not compute is dropped (:class:`_Normalise`:
    comments, layout, docstrings, annotations, imports, error messages), so only edits that can
    change a number count. The fingerprint hashes the modules' digests, not their names, so moving
    a file changes no key. :data:`NOT_FINGERPRINTED` modules are not followed. Returns (hex digest,
    the modules covered, the external libraries they import).
    """
    seen, todo, libs = {}, list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        digest, ours, used = _module_digest(name)
        seen[name] = digest
        todo.extend(ours)
        libs |= used
    blob = json.dumps(sorted(seen.values()))
    return hashlib.sha256(blob.encode()).hexdigest()[:24], tuple(sorted(seen)), tuple(sorted(libs))


def library_versions(libs: Iterable[str]) -> dict[str, str]:
    """Versions of the libraries in ``libs`` that can change numbers (torch, numpy, scipy)."""
    out = {}
    for lib in sorted(set(libs) & set(_LIBRARIES)):
        try:  # the release, without a local build tag ("2.13.0+cpu" and "2.13.0+cu126" are one torch)
            out[lib] = __import__(lib).__version__.split("+")[0]
        except ImportError:
            out[lib] = "absent"
    if "torch" in out and out["torch"] != "absent":
        from . import kernels

        out["torch-ops"] = kernels.BACKEND
        out["blas"] = kernels.blas_mode()  # MKL's reproducibility mode changes the last bits
    return out
