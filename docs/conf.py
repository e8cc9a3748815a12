"""Sphinx configuration for the mixem documentation.

Build with warnings as errors::

    python -m sphinx -W -b html docs docs/_build/html
"""

import mixem

project = "mixem"
author = "the mixem developers"
copyright = "the mixem developers"
version = release = mixem.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]

# The gallery runs the scripts of examples/ and shows their figures and source.
plot_formats = [("png", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False

exclude_patterns = ["_build", "_large_data_figures.rst"]

# Plain autodoc directives in api.rst list members explicitly; nothing is generated into the tree.
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # signatures show the numpydoc "Parameters" types instead
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_theme_options = {"description": "Finite mixture models fitted by EM", "fixed_sidebar": True}
