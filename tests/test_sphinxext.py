"""springblock.sphinxext: the build stamp keys on the scale, the device and the package source, and
every script is loaded once per page."""
import shutil
from types import SimpleNamespace

import pytest

from springblock import sphinxext


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A copy of the package's source that the stamp hashes instead of the installed one."""
    copy = tmp_path / "springblock"
    shutil.copytree(sphinxext.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "assets"))
    monkeypatch.setattr(sphinxext, "PACKAGE_DIR", copy)
    return copy


def test_the_stamp_is_stable_and_says_scale_and_device(package):
    first = sphinxext.build_stamp()
    assert first == sphinxext.build_stamp()
    scale, device, digest = first.split("/")
    assert (scale, device) == ("auto", "cpu")  # conftest clears both variables: the book's own defaults
    assert len(digest) == 16 and int(digest, 16) >= 0


def test_the_stamp_follows_the_scale_and_the_device(package, monkeypatch):
    base = sphinxext.build_stamp()
    monkeypatch.setenv("SPRINGBLOCK_SCALE", "quick")
    quick = sphinxext.build_stamp()
    assert quick != base and quick.startswith("quick/cpu/")
    monkeypatch.setenv("SPRINGBLOCK_DEVICE", "cuda")
    cuda = sphinxext.build_stamp()
    assert cuda not in (base, quick) and cuda.startswith("quick/cuda/")
    assert cuda.split("/")[2] == base.split("/")[2]  # the same source
    monkeypatch.setenv("SPRINGBLOCK_SCALE", "auto")
    monkeypatch.setenv("SPRINGBLOCK_DEVICE", "cpu")
    assert sphinxext.build_stamp() == base


def test_the_stamp_follows_the_source(package):
    base = sphinxext.build_stamp()
    engine = package / "train.py"
    text = engine.read_text(encoding="utf-8")
    engine.write_text(text + "\n# an edit\n", encoding="utf-8")
    edited = sphinxext.build_stamp()
    assert edited != base and edited.split("/")[:2] == base.split("/")[:2]
    engine.write_text(text, encoding="utf-8")
    assert sphinxext.build_stamp() == base  # content, not modification time

    (package / "experiments" / "new_module.py").write_text("X = 1\n", encoding="utf-8")  # a new file, in a subpackage
    added = sphinxext.build_stamp()
    assert added != base
    (package / "experiments" / "new_module.py").rename(package / "experiments" / "renamed.py")
    assert sphinxext.build_stamp() not in (base, added)  # the file's name counts too


def test_the_stamp_ignores_what_is_not_source(package):
    base = sphinxext.build_stamp()
    (package / "notes.txt").write_text("not code", encoding="utf-8")
    (package / "assets").mkdir()
    (package / "assets" / "data.npz").write_bytes(b"\0" * 64)
    assert sphinxext.build_stamp() == base


def test_the_real_package_is_stamped():
    scale, device, digest = sphinxext.build_stamp().split("/")
    assert (scale, device) == ("auto", "cpu") and len(digest) == 16  # chapters default to scale auto


# ------------------------------------------------------------------ scripts once
class _Js(str):
    """Older sphinx's JavaScript entries: a str (the file name) with ``filename`` and ``attributes``."""

    def __new__(cls, filename, priority=500, **attributes):
        self = super().__new__(cls, filename)
        self.filename, self.priority, self.attributes = filename, priority, attributes
        return self


try:  # the entries sphinx >= 7.2 puts in context["script_files"]
    from sphinx.builders.html._assets import _JavaScript as Js_
except ImportError:
    Js_ = _Js


def _dedupe(context):
    sphinxext._dedupe_scripts(None, "index", "page.html", context, None)
    return context


@pytest.fixture(params=["sphinx", "str"])
def Js(request):  # both kinds of entry
    return Js_ if request.param == "sphinx" else _Js


def test_duplicated_scripts_are_loaded_once_in_their_first_place(Js):
    mathjax, mathjax_again = Js("https://cdn/mathjax.js", priority=500), Js("https://cdn/mathjax.js", priority=1000)
    thebe = Js("", body="var thebe = {};")
    files = [Js("_static/jquery.js"), mathjax, thebe, Js("_static/togglebutton.js"), mathjax_again,
             Js("", body="var thebe = {};"), Js("_static/togglebutton.js"), "_static/plain.js", "_static/plain.js"]
    context = {"script_files": files, "css_files": ["a.css", "a.css"]}
    _dedupe(context)
    assert context["script_files"] is files  # edited in place: the template reads this list
    assert [str(getattr(f, "filename", f)) for f in files] == ["_static/jquery.js", "https://cdn/mathjax.js", "",
                                                              "_static/togglebutton.js", "_static/plain.js"]
    assert files[1] is mathjax and files[2] is thebe
    assert context["css_files"] == ["a.css", "a.css"]  # only scripts are touched


def test_inline_scripts_with_different_bodies_are_all_kept(Js):
    files = [Js("", body="a = 1"), Js("", body="b = 2"), Js("", body="a = 1")]
    _dedupe({"script_files": files})
    assert [f.attributes["body"] for f in files] == ["a = 1", "b = 2"]


@pytest.mark.parametrize("context", [{}, {"script_files": []}, {"script_files": None}])
def test_pages_without_scripts_are_left_alone(context):
    before = dict(context)
    assert _dedupe(context) == before


def test_setup_registers_the_stamp_as_an_env_value():
    calls = []
    app = SimpleNamespace(add_config_value=lambda *a: calls.append(("config", a)),
                          connect=lambda event, fn, **kw: calls.append(("connect", event)),
                          add_js_file=lambda name: calls.append(("js", name)),
                          add_node=lambda node: calls.append(("node", node.__name__)),
                          add_directive=lambda name, cls: calls.append(("directive", name)),
                          add_post_transform=lambda cls: calls.append(("transform", cls.__name__)))
    meta = sphinxext.setup(app)
    assert ("config", ("springblock_build", "", "env")) in calls
    assert ("directive", "springblock-build") in calls and ("transform", "BuildSummaryTransform") in calls
    assert ("connect", "config-inited") in calls and ("connect", "html-page-context") in calls
    assert meta["parallel_read_safe"] is True


def test_the_build_summary_sums_the_pages_and_names_failures():
    meta = {"02_phase": {"exec_data": {"mtime": 1.7e9, "runtime": 90.0, "succeeded": True}},
            "01_sep": {"exec_data": {"mtime": 1.7e9, "runtime": 30.0, "succeeded": False}},
            "intro": {}}  # not executed: not a row
    rows = sphinxext.execution_rows(meta)
    assert [r[0] for r in rows] == ["01_sep", "02_phase"] and rows[1][2] == 90.0 and not rows[0][3]
    s = sphinxext.summary_sentence(rows, "Some CPU", 2, "default")
    assert "2 pages at scale default on Some CPU with 2 cores, in 2.0 minutes" in s
    assert "failed to execute: 01_sep" in s
    auto = sphinxext.summary_sentence(rows[1:], "Some CPU", 2, "auto")
    assert "each chapter says so at its top" in auto and "at scale" in auto.split("scale auto (")[1]
