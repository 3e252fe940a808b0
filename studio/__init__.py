"""The studio's own logic: conversations, variables, versions, the store, test suites and usage.

Nothing here imports gradio or httpx: `ui/` lays it out, `backend/` talks to the API, and this package
holds what the studio itself knows and decides, so that it can be tested without either.
"""
