"""The import rule of docs/architecture.md: no module imports a layer above its own.

    cli -> recipes (and runs) -> train / generate / evaluate / interop / embeddings / viz
        -> models -> nn -> data -> tokenizers -> config, errors, io, constants

Every import of every module counts, the ones inside functions included (a lazy import must not
hide an upward one). Tokenizers, config and the command table stay torch-free.
"""

import ast

import pytest

from conftest import REPO

LAYERS = [  # lowest first: a module may import its own layer and the ones before it
    {"lmlab.errors", "lmlab.config", "lmlab.io", "lmlab.constants", "lmlab.outputs"},
    {"lmlab.tokenizers"},
    {"lmlab.data"},
    {"lmlab.nn"},
    {"lmlab.models"},
    {"lmlab.train", "lmlab.generate", "lmlab.evaluate", "lmlab.interop", "lmlab.embeddings", "lmlab.viz"},
    {"lmlab.recipes", "lmlab.runs", "lmlab.run_summary", "lmlab.experiments"},
    {"lmlab.cli", "lmlab.__main__"},
]
TORCH_FREE = ["lmlab.tokenizers", "lmlab.config", "lmlab.io", "lmlab.errors", "lmlab.constants", "lmlab.outputs",
              "lmlab.cli", "lmlab.recipes.options", "lmlab.recipes.text_options",
              "lmlab.recipes.experiment_options", "lmlab.recipes.common"]


def layer_of(module: str) -> int | None:
    for rank, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return rank
    return None


def modules():
    for path in sorted((REPO / "lmlab").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(path.read_text(encoding="utf-8"))


def imports(tree) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name, tree", list(modules()), ids=lambda value: value if isinstance(value, str) else "")
def test_no_module_imports_a_layer_above_its_own(name, tree):
    rank = layer_of(name)
    if name == "lmlab":  # the package's lazy public API re-exports every layer by name, imports none
        return
    assert rank is not None, f"{name} is in no layer of docs/architecture.md"
    upward = sorted(m for m in imports(tree) if m.startswith("lmlab") and (layer_of(m) or 0) > rank)
    assert not upward, f"{name} imports {upward} from above its layer"


@pytest.mark.parametrize("name, tree", [(n, t) for n, t in modules() if any(n == p or n.startswith(p + ".")
                                                                             for p in TORCH_FREE)],
                         ids=lambda value: value if isinstance(value, str) else "")
def test_torch_free_modules_import_neither_torch_nor_numpy(name, tree):
    assert not {m for m in imports(tree) if m.split(".")[0] in ("torch", "numpy")}, name
