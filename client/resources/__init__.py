"""The API's resources, each written once for `Client` and `AsyncClient` (see `_resource.py`)."""
