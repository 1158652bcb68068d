"""Drop repeated inline scripts from every page.

sphinx-thebe adds its configuration script (``const THEBE_JS_URL = ...``) after
the HTML builder has started, and Sphinx then lists it twice on every page; the
second copy is a JavaScript error ("Identifier 'THEBE_JS_URL' has already been
declared") in the browser's console. Identical scripts are kept once.
"""

from __future__ import annotations

from typing import Any


def _unique(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # The two copies differ only in how they spell "no file": None and "".
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"][:] = kept


def setup(app: Any) -> dict:
    app.connect("html-page-context", _unique, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
