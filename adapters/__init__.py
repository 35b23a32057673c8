"""hashmatch's built-in format adapters, installed as the import package ``hashmatch_adapters``.

One module per format. Each adapter is registered through the ``hashmatch.adapters``
entry-point group in ``pyproject.toml``, exactly as a third-party adapter would be; the
core finds them through :mod:`hashmatch.registry` and never imports them by name.

Modules import each other relatively: the folder is ``adapters/`` in the source tree and
``hashmatch_adapters`` once installed (a package called ``adapters`` would collide with
an unrelated project on PyPI).
"""
