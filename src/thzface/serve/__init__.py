"""Local web app and JSON API for a trained run (``thzface serve``); see :mod:`thzface.serve.app`."""

from thzface.serve.app import create_app, serve
from thzface.serve.images import UploadError, UploadLimits

__all__ = ["create_app", "serve", "UploadError", "UploadLimits"]
