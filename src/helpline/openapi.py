"""The OpenAPI description, made to say what the API really answers.

Every `/api/v1` operation documents its errors as `ErrorBody`. FastAPI files additional responses
under the route's own media type, so a plain-text or CSV download would claim its errors are
text too; they are JSON like every other error (this module moves them back).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from helpline.errors import ERROR_RESPONSES

ERROR_STATUSES = {str(status) for status in ERROR_RESPONSES}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)  # builds and caches it in app.openapi_schema
            for operations in schema["paths"].values():
                for operation in operations.values():
                    _errors_as_json(operation.get("responses", {}))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _errors_as_json(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        content = response.get("content")
        if status in ERROR_STATUSES and content and "application/json" not in content:
            response["content"] = {"application/json": next(iter(content.values()))}
