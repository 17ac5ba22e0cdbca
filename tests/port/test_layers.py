"""Calls between apps point one way (docs/architecture.md, "Who owns what").

Every import in every app's modules (migrations aside) is read with ast and mapped to the
app it reaches. An app may import only apps in lower layers; when a lower app must reach a
higher one, the higher registers a hook in its AppConfig.ready (shipping's BERTHED_HOOKS and
TERMINAL_REPORTERS, declarations' DECISION_READERS, DETAIL_READERS and GUARANTEE_BLOCKERS).
"""

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

# Lowest first. Keep in step with the table in docs/architecture.md.
LAYERS = [
    ["port"],
    ["reference", "alarms"],
    ["certificates"],
    ["declarations"],
    ["shipping"],
    ["inspection"],
    ["zones", "billing", "notifications"],
    ["ecommerce"],  # its 1210 lists draw on the zones' stock accounts
    ["analytics"],
]
LAYER = {app: depth for depth, names in enumerate(LAYERS) for app in names}
# The project package wires every app together; only these modules of it import apps.
PROJECT_WIRING = ("port/urls.py", "port/asgi.py", "port/management/")


def project_apps() -> list[str]:
    root = Path(settings.BASE_DIR).resolve()
    return [
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == root
    ]


def imports_between_apps() -> list[tuple[str, str, str]]:
    """(importing app, imported app, "path:line") for every import that crosses apps."""
    root = Path(settings.BASE_DIR).resolve()
    names = set(project_apps())
    found = []
    for app in sorted(names):
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            where = path.relative_to(root).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), filename=where)):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                found += [
                    (app, target, f"{where}:{node.lineno}")
                    for target in {module.split(".")[0] for module in modules}
                    if target in names and target != app
                ]
    return found


def test_every_app_has_a_layer():
    assert sorted(project_apps()) == sorted(LAYER)


def test_apps_import_only_lower_layers():
    wrong = [
        f"{where}: {app} imports {target}"
        for app, target, where in imports_between_apps()
        if LAYER[target] >= LAYER[app] and not where.startswith(PROJECT_WIRING)
    ]
    assert wrong == []


def test_the_app_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {app: set() for app in project_apps()}
    for app, target, where in imports_between_apps():
        if not where.startswith(PROJECT_WIRING):
            graph[app].add(target)
    done: set[str] = set()

    def cycle_from(app: str, path: list[str]) -> list[str]:
        if app in path:
            return [*path[path.index(app) :], app]
        if app in done:
            return []
        for target in sorted(graph[app]):
            if found := cycle_from(target, [*path, app]):
                return found
        done.add(app)
        return []

    assert [cycle for app in sorted(graph) if (cycle := cycle_from(app, []))] == []
