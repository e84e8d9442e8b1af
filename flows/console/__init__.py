"""The web console: workflows, instances, triggers and the sandbox in a browser (docs/console.md).

Server-rendered pages (Jinja2, autoescaped) over the application layer, a few lines of script
that refresh a running instance's timeline, and a style sheet of its own: no build step, nothing
loaded from elsewhere.
"""
