"""Guest Lifecycle: the life of Microsoft Entra B2B guests as an Azure Functions app."""

__version__ = "1.0.0"
"""The one version of the app: the OpenAPI documents, `GET /api/health`, `python -m lifecycle --version`, azure.yaml
and pyproject.toml report it (tests/unit/test_version.py fails when one of them disagrees). A module constant, since
the package is not installed where it runs."""
