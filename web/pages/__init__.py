"""Page modules: each exposes `routes()` and renders templates under web/templates (see web/README.md)."""
