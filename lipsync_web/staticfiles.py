"""The static files storage of production: hashed names, compressed copies, module imports.

whitenoise's CompressedManifestStaticFilesStorage gives every collected file a name with its
content's hash (so browsers may cache it for ever) and a compressed copy, and rewrites CSS
`url()` references to the hashed names. The timeline editor is a set of native ES modules
(static/js/timeline/) that import one another by relative path: their `import … from "./x.js"`
must name the hashed files too, or a page would mix modules of two releases.
"""

from __future__ import annotations

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Django's own rewriting of `import`/`export … from` (what support_js_module_import_aggregation
# turns on for every *.js), limited to our scripts: third-party ones are not our modules, and
# some import files that are not shipped (django-htmx's extensions name "../htmx"), which would
# stop collectstatic. The pattern is matched with fnmatch, whose * also crosses folders.
OUR_MODULES = "js/*.js"
MODULE_IMPORT_PATTERNS = ManifestStaticFilesStorage._js_module_import_aggregation_patterns[1]


class ProductionStaticFilesStorage(CompressedManifestStaticFilesStorage):
    patterns = (
        *CompressedManifestStaticFilesStorage.patterns,
        (OUR_MODULES, MODULE_IMPORT_PATTERNS),
    )
