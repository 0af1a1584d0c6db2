"""Development server for machines without Azure Functions Core Tools: `python -m lifecycle serve`.

Never deployed and never imported by `function_app`: it needs the development dependencies (starlette, uvicorn, the
Graph emulator)."""
