"""The six functions, one module each: the routes and events each one takes.

A function's package (``functions/<name>/function``) imports only its own
module here, so it loads only what its routes need: the models function loads
no CloudEvents, registry payloads, canary or notify code (``tests/unit/test_imports``
holds each function to that). Each module has ``new()``, the object func-python
serves, and, when other functions reuse them, its ``routes()``.

Each split function answers its canonical routes (the seed's paths, for the
Gateway API route in front of them); deploy, list and health also answer at
``/``, the URL Knative gives the function. The root function answers every
canonical route. The notify function takes only the ApiServerSource's events
(at ``/``) and sends status-change events of its own to ``K_SINK``.
"""
